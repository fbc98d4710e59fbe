#!/usr/bin/env node
/**
 * CPU of `routemeter top` (the live view, compiled: `npm run build` first) against a stream carrying a steady
 * request rate from several app processes, per route count.
 *
 *   node bench/top-cpu.mjs [--rate 50000] [--processes 20] [--routes 40,5000] [--window 1m] [--warm 70] [--seconds 30]
 *
 * A private redis-server (no persistence); for each route count, `--processes` producers each XADD one entry a
 * second, as redisSink does with the default flushInterval, carrying rate ÷ processes request records over
 * `--routes` routes × GET/POST (uniformly), with RequestTime, CpuTime and an app timer per record. The entries
 * are encoded once before the run (the bench's own CPU is not top's), stamped by Redis when written.
 * `top` runs as a user runs it (`node dist/cli/main.js top`), its screen written to a pipe this process drains.
 * Reported: top's CPU (user + system, /proc/<pid>/stat) over `--seconds` after `--warm` seconds (a 1 m window
 * is full after 60 s: from then on each second adds a second and expires one), as % of one core, and its RSS.
 * With `ROUTEMETER_BENCH_DIST_BEFORE=<an older dist>`, a second `top` of that build reads the same stream at the
 * same time, measured over the same seconds: before and after share every noisy moment of the machine.
 * Linux only (/proc).
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { createClient } from 'redis'
import { DIST, DIST_BEFORE } from './lib/dist.mjs'
import { startRedis } from './lib/receivers.mjs'

const { encodeBatch } = await import(pathToFileURL(join(DIST, 'wire', 'stream-encoding.js')).href)

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '50000' },
    processes: { type: 'string', default: '20' },
    routes: { type: 'string', default: '40,5000' },
    window: { type: 'string', default: '1m' },
    warm: { type: 'string', default: '70' },
    seconds: { type: 'string', default: '30' },
  },
})
const RATE = Number(values.rate)
const PROCESSES = Number(values.processes)
const WARM_S = Number(values.warm)
const MEASURE_S = Number(values.seconds)
/** Distinct entries encoded per producer; each second a producer writes the next one round. */
const VARIANTS = 4
const TICK_US = 10_000

/**
 * One producer's entries: `perSecond` records over `routes` routes each, `VARIANTS` of them, encoded once and
 * written again each round (their records' start times stay those of the bench's start: `top`'s work is the same).
 */
function entries(routes, perSecond, seed) {
  let x = seed * 7919 + 1
  const random = () => { x = (x * 1103515245 + 12345) % 2147483648; return x / 2147483648 }
  const out = []
  for (let v = 0; v < VARIANTS; v++) {
    const records = new Array(perSecond)
    for (let i = 0; i < perSecond; i++) {
      const status = random() < 0.01 ? 500 : random() < 0.05 ? 404 : 200
      records[i] = {
        kind: 'request', prefix: '', route: `api.v1.resource${Math.floor(random() * routes)}.id`, method: random() < 0.5 ? 'GET' : 'POST',
        status, aborted: false, dimensions: {},
        counters: { Failure: status >= 500 ? 1 : 0, ClientError: status === 404 ? 1 : 0, Aborted: 0 },
        timers: { RequestTime: 0.2 + random() * 20, CpuTime: 0.05 + random(), 'db.query': 0.1 + random() * 5 },
        timestamp: Date.now(),
      }
    }
    out.push(...encodeBatch(records).entries.map((e) => ({ v: e.v, n: String(e.n), p: e.p, s: `bench-host:${1000 + seed}` })))
  }
  return out
}

/**
 * CPU ticks (user + system) and RSS (pages) of a process. Ticks are taken as 1/100 s and pages as 4 KiB: USER_HZ is
 * 100 on every Linux Node runs on, and x64 pages are 4 KiB.
 */
function procStat(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1].split(' ')
  return { ticks: Number(fields[11]) + Number(fields[12]), rssPages: Number(fields[21]) }
}

async function run(url, routes) {
  const stream = `top-bench-${routes}`
  const perSecond = Math.round(RATE / PROCESSES)
  const made = Array.from({ length: PROCESSES }, (_, p) => entries(routes, perSecond, p + routes))
  const client = createClient({ url })
  await client.connect()
  let stop = false
  let written = 0
  const produce = (async () => {
    for (let second = 0; !stop; second++) {
      const next = Date.now() + 1000
      await Promise.all(made.map((own) => client.xAdd(stream, '*', own[second % own.length], {
        TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: 10_000 },
      })))
      written += PROCESSES
      await sleep(Math.max(0, next - Date.now()))
    }
  })()
  const builds = DIST_BEFORE === null ? [['now', DIST]] : [['now', DIST], ['before', DIST_BEFORE]]
  const tops = builds.map(([name, dist]) => {
    const args = [join(dist, 'cli', 'main.js'), 'top', '--redis', url, '--stream', stream, '--window', values.window]
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NO_COLOR: '1' } })
    child.stdout.resume()
    return { name, child, exited: new Promise((resolve) => child.on('exit', resolve)) }
  })
  await sleep(WARM_S * 1000)
  const before = tops.map((t) => procStat(t.child.pid))
  const t0 = performance.now()
  await sleep(MEASURE_S * 1000)
  const after = tops.map((t) => procStat(t.child.pid))
  const wallMs = performance.now() - t0
  stop = true
  await produce
  for (const t of tops) t.child.kill('SIGTERM')
  await Promise.all(tops.map((t) => t.exited))
  await client.close()
  return tops.map((t, i) => ({
    build: t.name, routes, rows: routes * 2, entries: written,
    cpuPct: ((after[i].ticks - before[i].ticks) * (TICK_US / 1000) / wallMs) * 100, rssMb: (after[i].rssPages * 4096) / 2 ** 20,
  }))
}

const redis = await startRedis()
try {
  const load = `${RATE} requests/s from ${PROCESSES} processes (an entry each a second)`
  console.log(`top --window ${values.window}: ${load}, node ${process.version}`)
  console.log('build   routes  route rows  top CPU (% of a core)  RSS MB')
  for (const routes of values.routes.split(',').map(Number)) {
    for (const r of await run(redis.url, routes)) {
      const cells = [r.build.padEnd(6), String(r.routes).padStart(6), String(r.rows).padStart(10), r.cpuPct.toFixed(1).padStart(21)]
      console.log(`${cells.join('  ')}  ${r.rssMb.toFixed(0).padStart(6)}`)
    }
  }
} finally {
  await redis.close()
}
