// Side by side, at the same time: every contender's server runs under load at once, all pinned to one core,
// each with its own load generator (all on the other core), and CPU per request is read over the same
// windows for all of them. A slow second of the shared machine then slows every contender alike, so the
// per-window difference to the base cancels it. run.mjs loads one server at a time and compares rounds; on
// this machine its rounds of one contender swung by ±5 µs/request, more than the differences sought here.
//
//   node bench/paired.mjs --only floor,rm-memory,rm-memory-nocpu [--routes tiny,json,await20]
//                         [--windows 12] [--window 1] [--connections 16] [--repeat 1] [--out path] [--count]
//                         [--node-args='--flag …'] [--turns]
//
// --repeat N runs the whole thing N times with fresh processes and pools the windows. Each server is checked
// like in run.mjs (answers, then what it recorded) before any window. Reported per contender and route: CPU
// µs per request (median over windows) and added µs over its base: the median of the per-window paired
// differences, [min…max], with a 95 % confidence interval for that median (lib/stats.mjs, medianInterval: the
// range says how noisy a window is, the interval how well the median is known); and on Node ≥ 23.9 the same
// difference for the main thread's CPU alone, which tells JavaScript-thread work from GC and other helper
// threads. The JSON output keeps every window's difference, so separate runs can be pooled. Sharing the core
// changes absolute figures (each server gets 1/N of it, with more context switches), not the comparison.
//
// --count also counts, per request, the clock reads each server's code makes (lib/clock-calls.mjs): the
// attributed clock's switches (performance.now(), libuv idle time) and its guard's system calls, in total and
// by the two functions that made each read. Counting costs CPU itself: take CPU figures from runs without it.
//
// --turns loads one server at a time instead: in each window every contender gets a turn alone on the core (its
// load generator resumed, 0.25 s to settle, the window, then paused until nothing is in flight), in an order
// rotated by one each window. It shows a server with a core of its own, as production gives one, where sharing
// the core preempts each server every few ms, which the attributed clock's preemption guard answers by reading
// the CPU more often (bench/README.md, "Alone on the core"). The turns of one window are apart, so the machine's
// drifts cancel less: on the 2-core VM, bare-twin's 95 % interval on json was −12.9…+24.5 µs over 12 windows of
// 1 s, against ±3 µs together; short turns and many windows (--window 0.3 --windows 90, pooled with pool.mjs)
// brought it to ±4 µs over 420. Counts per request (--count) do not drift.
//
// --node-args='--trace-gc-nvp' passes flags to every server's node (space-separated; write it with `=`, since
// it starts with a dash). Servers share the terminal, so what they print interleaves; V8's GC trace names its pid.
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { request } from 'undici'
import { ROUTES, checkResponse } from './app.mjs'
import { CONTENDERS } from './contenders.mjs'
import { pathsFor } from './paths.mjs'
import { ask, cpuPlan, killAll, pinSelf, spawnNode } from './lib/child.mjs'
import { startReceivers } from './lib/receivers.mjs'
import { median, medianInterval } from './lib/stats.mjs'
import { CLOCK_CALLS } from './lib/clock-calls.mjs'
import { spawnLoad, startLoad } from './lib/load-run.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const { values: args } = parseArgs({
  options: {
    only: { type: 'string' }, routes: { type: 'string' }, windows: { type: 'string' }, window: { type: 'string' },
    connections: { type: 'string' }, repeat: { type: 'string' }, out: { type: 'string' }, count: { type: 'boolean' },
    'node-args': { type: 'string' }, turns: { type: 'boolean' },
  },
})
const wanted = new Set((args.only ?? 'floor,rm-memory,rm-memory-nocpu').split(','))
for (const c of CONTENDERS) if (wanted.has(c.name)) wanted.add(c.base)
const list = CONTENDERS.filter((c) => wanted.has(c.name))
const routes = args.routes ? args.routes.split(',') : Object.keys(ROUTES)
const WINDOWS = Number(args.windows ?? 12)
const WINDOW_S = Number(args.window ?? 1)
const CONNECTIONS = Number(args.connections ?? 16)
const REPEAT = Number(args.repeat ?? 1)
const TURNS = Boolean(args.turns)
const TURN_SETTLE_S = 0.25
const nodeArgs = args['node-args'] ? args['node-args'].split(' ') : []
const serverEnv = args.count ? { ...process.env, ROUTEMETER_BENCH_COUNT: '1' } : undefined
const log = (...xs) => console.error(...xs)

/** A server's measured window opens; closing it answers what the server served and the CPU it took. */
const openWindow = (p) => ask(p.server, { type: 'start' }, 'started', 10_000, p.c.name)
const closeWindow = (p) => ask(p.server, { type: 'stop' }, 'stopped', 10_000, p.c.name)
/** A server's load generator stops sending; answered once nothing is in flight. */
const pauseLoad = (p) => ask(p.load, { type: 'pause' }, 'paused', 10_000, `load for ${p.c.name}`)

/** One window with every server loaded at once: what each served and the CPU it took. */
async function together(procs) {
  await Promise.all(procs.map(openWindow))
  await sleep(WINDOW_S * 1000)
  return Promise.all(procs.map(closeWindow))
}

/**
 * One window in turns (--turns): each server loaded alone for WINDOW_S, the others idle, starting with the
 * `w`-th so that no contender always follows the same one. A server that just woke runs its first requests
 * from cold caches: TURN_SETTLE_S of load before its window opens.
 */
async function turns(procs, w) {
  const got = new Array(procs.length)
  for (let k = 0; k < procs.length; k++) {
    const i = (w + k) % procs.length
    const p = procs[i]
    p.load.send({ type: 'resume' })
    await sleep(TURN_SETTLE_S * 1000)
    await openWindow(p)
    await sleep(WINDOW_S * 1000)
    got[i] = await closeWindow(p)
    await pauseLoad(p)
  }
  return got
}

async function once(samples) {
  const plan = cpuPlan()
  if (plan) pinSelf(plan.load)
  // Receivers first (a redis-server, UDP sockets; on the load generators' core), so no contender sends into a closed port.
  const receivers = await startReceivers(list, { cpu: plan?.load })
  const procs = await Promise.all(list.map(async (c) => {
    const options = JSON.stringify(receivers.optionsFor(c))
    const server = spawnNode(path.join(here, 'server.mjs'), [c.name, options], { cpu: plan?.server, env: serverEnv, nodeArgs })
    const load = await spawnLoad({ cpu: plan?.load, label: `load for ${c.name}` })
    const { port } = await ask(server, null, 'ready', 60_000, c.name)
    return { c, server, load, port }
  }))
  for (const { c, port } of procs) {
    for (const route of routes) {
      for (const p of pathsFor(route).slice(0, 3)) {
        const res = await request(`http://127.0.0.1:${port}${p}`)
        const problem = checkResponse(route, res.statusCode, await res.body.text())
        if (problem) throw new Error(`${c.name} answered GET ${p} wrongly: ${problem}`)
      }
    }
  }
  for (const route of routes) {
    const runs = await Promise.all(procs.map((p) => startLoad(p.load, {
      port: p.port, route, connections: CONNECTIONS, label: `load for ${p.c.name}`,
    })))
    await sleep(1500) // warm-up under load
    if (TURNS) await Promise.all(procs.map(pauseLoad))
    for (let w = 0; w < WINDOWS; w++) {
      const got = TURNS ? await turns(procs, w) : await together(procs)
      const perReq = new Map(got.map((g, i) => [procs[i].c.name, g.cpuUs / g.requests]))
      for (const c of list) {
        const key = `${c.name}|${route}`
        if (!samples.has(key)) samples.set(key, { cpu: [], added: [], rps: [], thread: [], threadAdded: [], calls: [], callers: [] })
        const s = samples.get(key)
        const g = got[list.indexOf(c)]
        if (g.calls) s.calls.push(Object.fromEntries(CLOCK_CALLS.map((k) => [k, g.calls[k] / g.requests])))
        if (g.callers) s.callers.push(Object.fromEntries(Object.entries(g.callers).map(([k, v]) => [k, v / g.requests])))
        s.cpu.push(perReq.get(c.name))
        s.added.push(perReq.get(c.name) - perReq.get(c.base))
        s.rps.push(g.requests / WINDOW_S)
        // NaN before Node 23.9 (it arrives as null: IPC is JSON)
        const threadOf = (name) => { const g = got[list.findIndex((x) => x.name === name)]; return (g.threadUs ?? NaN) / g.requests }
        s.thread.push(threadOf(c.name))
        s.threadAdded.push(threadOf(c.name) - threadOf(c.base))
      }
    }
    await Promise.all(runs.map((run) => run.finish()))
    log(`${route}: ${WINDOWS} windows done`)
  }
  for (const { c, server } of procs) {
    const verdict = await ask(server, { type: 'verify' }, 'verified', 30_000, c.name)
    const received = await receivers.check(c, verdict.served)
    if (!verdict.ok || !received.ok) throw new Error(`VERIFY FAILED, ${c.name}: ${verdict.detail}; ${received.detail}`)
    if (received.detail !== '') {
      log(`${c.name}: ${received.detail}`)
      const kept = receivedBy[c.name] ??= []
      kept.push(received.detail)
    }
  }
  for (const { server, load } of procs) { server.send({ type: 'exit' }); load.kill() }
  await sleep(500)
  await receivers.close()
  killAll()
}

const started = Date.now()
const samples = new Map()
/** What each contender's receiver held after each repeat (entries and records a Redis stream got, packets a UDP port got). */
const receivedBy = {}
try {
  log(`node ${process.version}; contenders ${list.map((c) => c.name).join(',')}; routes ${routes.join(',')}; ` +
    `${WINDOWS} windows of ${WINDOW_S} s × ${REPEAT}, ${CONNECTIONS} connections each${TURNS ? ', in turns' : ''}`)
  for (let i = 0; i < REPEAT; i++) await once(samples)
} catch (err) {
  killAll()
  throw err
}
const f = (x, sign) => (sign && x > 0 ? '+' : '') + x.toFixed(1)
const rows = []
console.log('| server | base | route | req/s | cpu µs/req | added µs/req, median [min…max] of paired windows | 95 % CI of the median | ' +
  'added / base [95 % CI] | main thread added |')
console.log('|---|---|---|--:|--:|--:|--:|--:|--:|')
for (const route of routes) {
  for (const c of list) {
    const s = samples.get(`${c.name}|${route}`)
    const base = median(samples.get(`${c.base}|${route}`).cpu)
    const added = median(s.added)
    const interval = medianInterval(s.added)
    // The windows themselves are kept, so that runs can be pooled later (pool.mjs; bench/README.md, "How far to
    // trust a median").
    const row = { server: c.name, base: c.base, route, rps: median(s.rps), cpuUsPerReq: median(s.cpu), addedUsPerReq: added,
      addedUsPerReqRange: [Math.min(...s.added), Math.max(...s.added)], addedUsPerReqInterval: interval, addedShare: added / base,
      addedShareInterval: interval.map((x) => x / base), windows: s.added.length,
      threadUsPerReq: median(s.thread), threadAddedUsPerReq: median(s.threadAdded), baseCpuUsPerReq: base,
      addedUsPerReqWindows: s.added.map((x) => Number(x.toFixed(3))) }
    rows.push(row)
    const pct = (x) => `${(x * 100).toFixed(1)}%`
    // Fewer than 6 windows give no 95 % interval: '—' for it.
    const known = !Number.isNaN(interval[0])
    const shareInterval = known ? ` [${pct(row.addedShareInterval[0])}…${pct(row.addedShareInterval[1])}]` : ''
    console.log(`| ${c.name} | ${c.base} | ${route} | ${Math.round(row.rps)} | ${f(row.cpuUsPerReq)} | ` +
      `${c.name === c.base ? '—' : `${f(added, true)} [${f(row.addedUsPerReqRange[0], true)}…${f(row.addedUsPerReqRange[1], true)}]`} | ` +
      `${c.name === c.base || !known ? '—' : `${f(interval[0], true)}…${f(interval[1], true)}`} | ` +
      `${c.name === c.base ? '—' : `${pct(row.addedShare)}${shareInterval}`} | ` +
      `${c.name === c.base || Number.isNaN(row.threadAddedUsPerReq) ? '—' : f(row.threadAddedUsPerReq, true)} |`)
  }
}
// A change's own effect: where a contender runs with its `…-before` twin (ROUTEMETER_BENCH_DIST_BEFORE), the
// median over windows of after − before, window by window, and in how many windows after cost less.
const changes = []
const twins = list.filter((c) => c.name.endsWith('-before') && list.some((x) => x.name === c.name.slice(0, -'-before'.length)))
if (twins.length > 0) {
  console.log('\n| after − before | route | µs/request, median [min…max] of paired windows | 95 % CI of the median | ' +
    'windows where after cost less |')
  console.log('|---|---|--:|--:|--:|')
  for (const route of routes) {
    for (const twin of twins) {
      const name = twin.name.slice(0, -'-before'.length)
      const after = samples.get(`${name}|${route}`).cpu
      const before = samples.get(`${twin.name}|${route}`).cpu
      const diff = after.map((x, w) => x - before[w])
      const less = diff.filter((d) => d < 0).length
      const interval = medianInterval(diff)
      changes.push({ server: name, route, afterMinusBeforeUsPerReq: median(diff),
        afterMinusBeforeRange: [Math.min(...diff), Math.max(...diff)], afterMinusBeforeInterval: interval, windowsAfterLess: less,
        windows: diff.length, afterMinusBeforeWindows: diff.map((x) => Number(x.toFixed(3))) })
      console.log(`| ${name} | ${route} | ${f(median(diff), true)} [${f(Math.min(...diff), true)}…${f(Math.max(...diff), true)}] | ` +
        `${Number.isNaN(interval[0]) ? '—' : `${f(interval[0], true)}…${f(interval[1], true)}`} | ${less} of ${diff.length} |`)
    }
  }
}
if (args.count) {
  console.log('\nClock reads per request (median over windows; counted, so the CPU figures above are inflated):\n')
  console.log(`| server | route | ${CLOCK_CALLS.join(' | ')} |`)
  console.log(`|---|---|${CLOCK_CALLS.map(() => '--:').join('|')}|`)
  for (const row of rows) {
    const calls = samples.get(`${row.server}|${row.route}`).calls
    row.clockCallsPerReq = Object.fromEntries(CLOCK_CALLS.map((k) => [k, median(calls.map((x) => x[k]))]))
    console.log(`| ${row.server} | ${row.route} | ${CLOCK_CALLS.map((k) => row.clockCallsPerReq[k].toFixed(3)).join(' | ')} |`)
  }
  console.log('\nThe same reads by who made them (read ← caller ← its caller; median over windows, a window without one counts 0):\n')
  console.log('| server | route | read ← caller ← its caller | per request |')
  console.log('|---|---|---|--:|')
  for (const row of rows) {
    const windows = samples.get(`${row.server}|${row.route}`).callers
    const where = [...new Set(windows.flatMap((w) => Object.keys(w)))]
    row.clockCallsByCaller = Object.fromEntries(where.map((k) => [k, median(windows.map((w) => w[k] ?? 0))])
      .filter(([, n]) => n >= 0.005).sort((a, b) => b[1] - a[1]))
    for (const [k, n] of Object.entries(row.clockCallsByCaller)) console.log(`| ${row.server} | ${row.route} | ${k} | ${n.toFixed(3)} |`)
  }
}
const out = path.resolve(args.out ?? path.join(here, 'results', 'paired-latest.json'))
fs.mkdirSync(path.dirname(out), { recursive: true })
fs.writeFileSync(out, JSON.stringify({ node: process.version, date: new Date().toISOString(), windows: WINDOWS, windowS: WINDOW_S,
  repeat: REPEAT, connections: CONNECTIONS, turns: TURNS, counted: Boolean(args.count), rows, changes, received: receivedBy }, null, 2))
log(`written ${path.relative(process.cwd(), out)} in ${Math.round((Date.now() - started) / 1000)} s`)
