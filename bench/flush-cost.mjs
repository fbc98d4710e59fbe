// Where a flush's time goes, per request, in a server under load: the batcher making the records (`build`), and
// the sink's `send` until it returns (the Redis sink: `encodeBatch`, then handing the entry to its socket).
//
//   node bench/flush-cost.mjs [--only rm-redis,rm-discard] [--route json] [--windows 10] [--window 2]
//     [--connections 16] [--out path]
//
// Each contender's server (bench/server.mjs, pinned to its own core as in profile.mjs; load generator and
// redis-server on the other) runs a copy of the build whose flushes time themselves (lib/flush-phases.mjs: wall
// time on the server's thread around each phase). One contender at a time, loaded for 1.5 s to warm up, then
// `--windows` windows of `--window` seconds under the same load. Printed per contender, medians over windows:
// CPU per request, flushes a second, records a flush, and each phase's µs a record (one record a request).
// The contenders run one after another, so their CPU per request is not a comparison (the VM's speed drifts by
// more than they differ): bench/paired.mjs is for that. The phases, a few per cent of a request, are.
// The timers add two `performance.now()` a phase a flush, nothing per request. What bench/paired.mjs prices as
// `rm-redis` − `rm-discard` is, besides the encode and hand-over seen here, whatever the XADD's traffic costs
// later (its reply, the socket's completion callbacks).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { CONTENDERS } from './contenders.mjs'
import { spawnNode, ask, killAll, cpuPlan, pinSelf } from './lib/child.mjs'
import { startReceivers } from './lib/receivers.mjs'
import { DIST } from './lib/dist.mjs'
import { flushPhasesBuild } from './lib/flush-phases.mjs'
import { spawnLoad, startLoad } from './lib/load-run.mjs'
import { median } from './lib/stats.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'rm-redis,rm-discard' }, route: { type: 'string', default: 'json' },
    windows: { type: 'string', default: '10' }, window: { type: 'string', default: '2' },
    connections: { type: 'string', default: '16' }, out: { type: 'string' },
  },
})
const specs = args.only.split(',').map((name) => {
  const spec = CONTENDERS.find((c) => c.name === name)
  const known = CONTENDERS.filter((c) => c.routemeter).map((c) => c.name)
  if (!spec?.routemeter) throw new Error(`${name} is not a routemeter contender; one of ${known.join(', ')}`)
  return spec
})
const WINDOWS = Number(args.windows)
const WINDOW_S = Number(args.window)

/** One contender, loaded: its windows' figures, per request. */
async function measure(spec, build, plan, load) {
  const name = spec.name
  const receivers = await startReceivers([spec], { cpu: plan?.load })
  try {
    const server = spawnNode(path.join(here, 'server.mjs'), [name, JSON.stringify(receivers.optionsFor(spec))], {
      cpu: plan?.server, env: { ...process.env, ROUTEMETER_BENCH_DIST: build },
    })
    const { port } = await ask(server, null, 'ready', 60_000, name)
    const run = await startLoad(load, { port, route: args.route, connections: Number(args.connections) })
    await sleep(1500) // warm-up under load
    const windows = []
    for (let w = 0; w < WINDOWS; w++) {
      await ask(server, { type: 'start' }, 'started', 30_000, name)
      await sleep(WINDOW_S * 1000)
      const got = await ask(server, { type: 'stop' }, 'stopped', 30_000, name)
      const f = got.flush
      if (f === undefined) throw new Error(`${name}: the server did not load the timed build`)
      const perRecord = (ms) => f.records > 0 ? 1000 * ms / f.records : NaN
      windows.push({
        cpuUsPerReq: got.cpuUs / got.requests, flushesPerS: f.flushes / (got.ms / 1000),
        recordsPerFlush: f.flushes > 0 ? f.records / f.flushes : NaN,
        buildUs: perRecord(f.buildMs), sendUs: perRecord(f.sendMs), encodeUs: perRecord(f.encodeMs),
        handOverUs: perRecord(f.sendMs - f.encodeMs),
      })
    }
    await run.finish()
    const verdict = await ask(server, { type: 'verify' }, 'verified', 30_000, name)
    if (!verdict.ok) throw new Error(`VERIFY FAILED for ${name}: ${verdict.detail}`)
    const exited = new Promise((resolve) => server.once('exit', resolve))
    server.send({ type: 'exit' })
    await exited
    return windows
  } finally {
    await receivers.close()
  }
}

async function main() {
  const plan = cpuPlan()
  if (plan) pinSelf(plan.load)
  const build = flushPhasesBuild(DIST)
  const load = await spawnLoad({ cpu: plan?.load })
  const results = {}
  try {
    for (const spec of specs) results[spec.name] = await measure(spec, build, plan, load)
  } finally {
    load.kill()
    fs.rmSync(path.dirname(build), { recursive: true, force: true })
  }
  const columns = ['cpuUsPerReq', 'flushesPerS', 'recordsPerFlush', 'buildUs', 'encodeUs', 'handOverUs', 'sendUs']
  console.log(`node ${process.version}; route ${args.route}; ${WINDOWS} windows of ${WINDOW_S} s, ${args.connections} connections;` +
    ' medians over windows; µs a record = µs a request')
  console.log('| server | CPU µs a request (one row after another) | flushes a second | records a flush | ' +
    'build µs | encode µs | hand-over µs | send µs |')
  console.log('|---|--:|--:|--:|--:|--:|--:|--:|')
  for (const [name, windows] of Object.entries(results)) {
    const cells = columns.map((k) => {
      const values = windows.map((w) => w[k]).filter(Number.isFinite)
      return values.length === 0 ? '—' : median(values).toFixed(k === 'flushesPerS' || k === 'recordsPerFlush' ? 0 : 2)
    })
    console.log(`| ${name} | ${cells.join(' | ')} |`)
  }
  if (args.out) {
    fs.writeFileSync(path.resolve(args.out), JSON.stringify({ node: process.version, date: new Date().toISOString(),
      route: args.route, windows: WINDOWS, windowS: WINDOW_S, connections: Number(args.connections), results }, null, 2))
  }
}

let code = 0
try { await main() } catch (err) { console.error(err.stack || err.message); code = 1 }
killAll()
process.exit(code)
