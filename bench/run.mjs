// routemeter's overhead bench. See bench/README.md for what is measured and how.
//
//   orchestrator (this process, CPU 1) ──IPC──► server child per contender (all on CPU 0, one loaded at a time)
//        │   start/stop: each server reports its own process.cpuUsage() delta and requests served
//        └──IPC──► load child (CPU 1): autocannon, N keep-alive connections, paths cycled per route
//   receivers (here, CPU 1): one UDP socket per StatsD contender; our own redis-server (CPU 1)
//
// A cell: load starts; once every connection has had a response, `lead` s of steady load; then the
// measured `window`; then load stops and in-flight requests finish.
// Order: spawn everything → check every contender's responses → per contender: warm up every route, then
// verify it recorded metrics (fail loudly if not) → rounds: route by route, every contender in turn
// (A B C … A B C …, the starting contender rotating per round) → medians → table, targets, JSON.
//
// Usage: node bench/run.mjs [--quick] [--rounds N] [--window S] [--lead S] [--warmup S]
//          [--connections N] [--pipelining N] [--only a,b] [--routes tiny,json,cpu] [--out path] [--no-pin]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { request } from 'undici'
import { CONTENDERS } from './contenders.mjs'
import { ROUTES, checkResponse } from './app.mjs'
import { pathsFor } from './paths.mjs'
import { spawnNode, ask, killAll, cpuPlan, pinSelf } from './lib/child.mjs'
import { DIST_BEFORE, distEntry } from './lib/dist.mjs'
import { spawnLoad, startLoad } from './lib/load-run.mjs'
import { startReceivers } from './lib/receivers.mjs'
import { median, min, max, round, table } from './lib/stats.mjs'
import { checkTargets } from './lib/targets.mjs'
import { cpuTimes, foreignShare } from './lib/procstat.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    window: { type: 'string' },
    lead: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    pipelining: { type: 'string' },
    only: { type: 'string' },
    routes: { type: 'string' },
    out: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
  },
})

// Full run: 39 cells × 8 rounds × ~1.4 s, plus 1 s of warm-up per cell and the re-measured windows
// ≈ 9 minutes. 64 connections
// without pipelining keep the server's event loop ~97% busy on every route (measured), so every contender
// is timed in the same regime: saturated, one request per read, like traffic from a keep-alive proxy.
const defaults = args.quick
  ? { rounds: 1, window: 0.15, lead: 0.05, warmup: 0.1, connections: 16, pipelining: 1 }
  : { rounds: 8, window: 1, lead: 0.25, warmup: 1, connections: 64, pipelining: 1 }
const config = {
  rounds: Number(args.rounds ?? defaults.rounds),
  windowS: Number(args.window ?? defaults.window),
  leadS: Number(args.lead ?? defaults.lead),
  warmupS: Number(args.warmup ?? defaults.warmup),
  connections: Number(args.connections ?? defaults.connections),
  pipelining: Number(args.pipelining ?? defaults.pipelining),
  quick: args.quick,
}
const routes = args.routes ? args.routes.split(',') : Object.keys(ROUTES)
const outPath = path.resolve(args.out ?? path.join(here, 'results', 'latest.json'))
const NOISY_FOREIGN = 0.15 // other work took more than 15% of the server's CPU during the window
const UNSATURATED_ELU = 0.85 // the server idled more than 15%: the load generator was starved
const log = (...xs) => console.error(...xs)

async function selectContenders() {
  // Rows kept for one tool (`onlyWhenAsked`) run only when --only names them.
  let list = args.only ? CONTENDERS : CONTENDERS.filter((c) => !c.onlyWhenAsked)
  if (args.only) {
    const wanted = new Set(args.only.split(','))
    // a contender needs its base to be measured in the same run
    for (const c of CONTENDERS) if (wanted.has(c.name)) wanted.add(c.base)
    list = list.filter((c) => wanted.has(c.name))
  }
  const left = []
  if (list.some((c) => c.routemeter)) {
    let lib = null
    try {
      const mod = await import(distEntry())
      lib = mod.withMetrics ? mod : mod.default
    } catch (err) {
      left.push(`routemeter rows: cannot import dist/index.js (${err.message}); run npm run build`)
    }
    if (lib && typeof lib.withMetrics !== 'function') left.push('routemeter rows: dist/index.js exports no withMetrics yet')
    list = list.filter((c) => {
      if (!c.routemeter) return true
      if (c.options.dist === 'before' && DIST_BEFORE === null) return false
      if (!lib || typeof lib.withMetrics !== 'function') return false
      if (c.options.sink === 'discard') return true // the bench's own sink (contenders/routemeter.mjs)
      const sink = `${c.options.sink}Sink`
      if (typeof lib[sink] !== 'function') { left.push(`${c.name}: dist/index.js exports no ${sink}`); return false }
      return true
    })
  }
  return { list, left }
}

async function main() {
  const started = Date.now()
  const plan = args['no-pin'] ? null : cpuPlan()
  if (plan) pinSelf(plan.load)
  const { list, left } = await selectContenders()
  for (const note of left) log(`NOTE: ${note} — left out of this run`)
  const cpuModel = os.cpus()[0]?.model ?? 'unknown'
  log(`node ${process.version}, ${os.cpus().length} CPUs (${cpuModel}), ` +
    `${plan ? `servers pinned to CPU ${plan.server}, load generator to CPU ${plan.load}` : 'no CPU pinning'}`)
  log(`config: ${JSON.stringify(config)}; routes ${routes.join(',')}; contenders ${list.map((c) => c.name).join(',')}`)

  // Receivers first, so no contender ever sends into a closed port.
  const receivers = await startReceivers(list, { cpu: plan?.load })

  const load = await spawnLoad({ cpu: plan?.load, label: 'load generator' })

  const servers = new Map()
  await Promise.all(list.map(async (c) => {
    const options = receivers.optionsFor(c)
    const child = spawnNode(path.join(here, 'server.mjs'), [c.name, JSON.stringify(options)], { cpu: plan?.server })
    const { port } = await ask(child, null, 'ready', 60_000, c.name)
    servers.set(c.name, { child, port })
  }))

  // 1. Every contender answers every route correctly.
  for (const c of list) {
    const { port } = servers.get(c.name)
    for (const route of routes) {
      for (const p of pathsFor(route).slice(0, 5)) {
        const res = await request(`http://127.0.0.1:${port}${p}`)
        const problem = checkResponse(route, res.statusCode, await res.body.text())
        if (problem) throw new Error(`${c.name} answered GET ${p} wrongly: ${problem}`)
      }
    }
  }
  log('responses checked: every contender answers every route correctly')

  // One load run against one server. With `measure`, the server's CPU and request count are taken over a
  // window that starts `lead` seconds in (connections open, steady state) and lasts `window` seconds.
  async function drive(c, route, { measure, seconds }) {
    const { child, port } = servers.get(c.name)
    const run = await startLoad(load, {
      port, route, connections: config.connections, pipelining: config.pipelining, label: `load against ${c.name}`, runMs: 120_000,
    })
    let sample = null
    if (measure) {
      await sleep(config.leadS * 1000)
      const before = plan ? cpuTimes(plan.server) : null
      await ask(child, { type: 'start' }, 'started', 10_000, c.name)
      load.send({ type: 'mark', on: true })
      await sleep(config.windowS * 1000)
      sample = await ask(child, { type: 'stop' }, 'stopped', 10_000, c.name)
      load.send({ type: 'mark', on: false })
      sample.noise = foreignShare(before, plan ? cpuTimes(plan.server) : null, sample.cpuUs)
    } else {
      await sleep(seconds * 1000)
    }
    const result = await run.finish()
    if (!measure) return result
    if (sample.requests === 0) throw new Error(`${c.name} on ${route}: served nothing in the measured window`)
    return {
      cpuUs: sample.cpuUs / sample.requests,
      rps: sample.requests / (sample.ms / 1000),
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      rssMb: sample.rssMb,
      elu: sample.elu,
      noise: sample.noise,
    }
  }

  const noise = [] // per kept window: share of the server's CPU taken by others, and stolen
  const retried = [] // cells measured twice because the first window was disturbed
  // at most one cell in ten is measured again, so a busy machine cannot stretch the run without bound
  const retryBudget = Math.ceil(0.1 * config.rounds * routes.length * list.length)
  // 2. Warm up, then check that each contender recorded metrics, before timing anything.
  for (const c of list) {
    for (const route of routes) await drive(c, route, { measure: false, seconds: config.warmupS })
    const { child } = servers.get(c.name)
    const verdict = await ask(child, { type: 'verify' }, 'verified', 30_000, c.name)
    const received = await receivers.check(c, verdict.served)
    if (!received.ok) verdict.ok = false
    const external = received.detail ? `; ${received.detail}` : ''
    const line = `${c.name}: ${verdict.served} requests served; ${verdict.detail}${external}`
    if (!verdict.ok) throw new Error(`VERIFY FAILED, ${line}`)
    log(`verified ${line.length > 300 ? line.slice(0, 300) + '…' : line}`)
    await ask(child, { type: 'reset' }, 'reset', 10_000, c.name)
  }

  // 3. Interleaved rounds.
  const samples = new Map() // `${name}|${route}` → [sample per round]
  for (let r = 0; r < config.rounds; r++) {
    const order = list.map((_, i) => list[(i + r) % list.length])
    for (const route of routes) {
      for (const c of order) {
        let s = await drive(c, route, { measure: true })
        // A window disturbed from outside (another process on the server's CPU, or a load generator
        // starved so the server idled) is measured once more; the second sample stands either way.
        if (!config.quick && retried.length < retryBudget &&
          ((s.noise?.foreign ?? 0) > NOISY_FOREIGN || s.elu < UNSATURATED_ELU)) {
          const others = s.noise ? `others ${(100 * s.noise.foreign).toFixed(0)}%, ` : ''
          retried.push(`${c.name}/${route} r${r + 1} (${others}elu ${s.elu.toFixed(2)})`)
          await ask(servers.get(c.name).child, { type: 'reset' }, 'reset', 10_000, c.name)
          s = await drive(c, route, { measure: true })
        }
        if (s.noise) noise.push(s.noise)
        const key = `${c.name}|${route}`
        if (!samples.has(key)) samples.set(key, [])
        samples.get(key).push(s)
        await ask(servers.get(c.name).child, { type: 'reset' }, 'reset', 10_000, c.name)
      }
      log(`round ${r + 1}/${config.rounds} ${route}: ` +
        order.map((c) => `${c.name} ${samples.get(`${c.name}|${route}`)[r].cpuUs.toFixed(1)}µs`).join(', '))
    }
  }

  // 4. Medians; "added" is the median over rounds of (contender − its base) in the same round.
  const rows = []
  for (const route of routes) {
    for (const c of list) {
      const own = samples.get(`${c.name}|${route}`)
      const base = samples.get(`${c.base}|${route}`)
      const cpu = own.map((s) => s.cpuUs)
      const added = own.map((s, i) => s.cpuUs - base[i].cpuUs)
      rows.push({
        server: c.name,
        base: c.base,
        route,
        rps: round(median(own.map((s) => s.rps)), 0),
        cpuUsPerReq: round(median(cpu)),
        addedUsPerReq: c.base === c.name ? 0 : round(median(added)),
        p50Ms: round(median(own.map((s) => s.p50Ms)), 3),
        p99Ms: round(median(own.map((s) => s.p99Ms)), 3),
        rssMb: round(median(own.map((s) => s.rssMb)), 1),
        cpuUsPerReqRange: [round(min(cpu)), round(max(cpu))],
        addedUsPerReqRange: c.base === c.name ? [0, 0] : [round(min(added)), round(max(added))],
        elu: round(median(own.map((s) => s.elu)), 3),
        // every round as measured, for anyone who doubts a median
        samples: own.map((s) => ({
          cpuUs: round(s.cpuUs), rps: round(s.rps, 0), elu: round(s.elu, 3), othersOnCpu: s.noise ? round(s.noise.foreign, 3) : null,
        })),
      })
    }
  }

  const targets = config.quick ? [] : checkTargets(rows)
  const measuredNoise = noise.filter(Boolean)
  const noiseSummary = measuredNoise.length === 0 ? null : {
    foreignMedian: round(median(measuredNoise.map((n) => n.foreign)), 3),
    foreignMax: round(max(measuredNoise.map((n) => n.foreign)), 3),
    stealMedian: round(median(measuredNoise.map((n) => n.steal)), 3),
    stealMax: round(max(measuredNoise.map((n) => n.steal)), 3),
  }
  const result = {
    node: process.version,
    cpus: os.cpus().length,
    cpuModel,
    date: new Date().toISOString(),
    rounds: config.rounds,
    config: { ...config, routes, pinned: Boolean(plan) },
    leftOut: left,
    noise: noiseSummary,
    retried,
    rows,
    targets,
  }
  fs.mkdirSync(path.dirname(outPath), { recursive: true })
  fs.writeFileSync(outPath, JSON.stringify(result, null, 2) + '\n')

  console.log(`\nnode ${process.version} · ${os.cpus().length} × ${cpuModel} · ${config.rounds} round(s) of ` +
    `${config.windowS} s per cell, ${config.connections} connections · medians [min…max over rounds]\n`)
  console.log(table(rows))
  if (config.quick) {
    console.log('\n--quick is a smoke test: cold JIT, tiny windows; its numbers mean nothing. Targets not evaluated.')
  } else if (targets.length) {
    console.log('\nTargets (tiny route unless stated):')
    for (const t of targets) console.log(`  ${t.met === null ? 'n/a   ' : t.met ? 'met   ' : 'MISSED'} ${t.target}: ${t.detail}`)
  }
  if (noiseSummary) {
    const pct = (x) => `${(100 * x).toFixed(0)}%`
    console.log(`\nNoise: during the measured windows, other work used a median ${pct(noiseSummary.foreignMedian)} ` +
      `(max ${pct(noiseSummary.foreignMax)}) of the server's CPU ${plan.server}; the hypervisor stole a median ` +
      `${pct(noiseSummary.stealMedian)} (max ${pct(noiseSummary.stealMax)}). ${retried.length} disturbed window(s) ` +
      `measured again${retried.length ? `: ${retried.slice(0, 8).join(', ')}${retried.length > 8 ? ', …' : ''}` : ''}.`)
  }
  for (const note of left) console.log(`\nLeft out: ${note}`)
  console.log(`\nwritten ${path.relative(process.cwd(), outPath)} in ${((Date.now() - started) / 1000).toFixed(0)} s`)

  for (const { child } of servers.values()) child.send({ type: 'exit' })
  load.kill()
  await receivers.close()
}

process.on('SIGINT', () => { killAll(); process.exit(130) })
process.on('SIGTERM', () => { killAll(); process.exit(143) })

let exitCode = 0
try {
  await main()
} catch (err) {
  console.error(`\nbench failed: ${err.stack || err.message}`)
  exitCode = 1
}
killAll()
// Receivers, redis clients and timers are not worth unwinding one by one: everything we started is gone.
process.exit(exitCode)
