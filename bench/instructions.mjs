// Instructions per request, counted by valgrind (callgrind), not timed: the same binary, build and requests
// give nearly the same count whatever else the machine is doing, so differences of a thousand instructions
// between builds show, where CPU time on these shared VMs swings by several µs a window.
//
//   node bench/instructions.mjs [--only floor,rm-discard,rm-discard-nocpu] [--routes tiny,json,await20]
//     [--warmup 21000] [--windows 4] [--requests 1500] [--connections 1] [--repeat 1] [--jobs N] [--top N]
//     [--clock-scale N] [--count] [--out path]
//
// Each contender's server (bench/server.mjs, unchanged) runs under `valgrind --tool=callgrind` and
// `node --single-threaded`, loaded by this process. After `--warmup` requests, callgrind's counters are zeroed
// and dumped around each of `--windows` windows of `--requests` requests (callgrind_control, sent while the
// server is busy, so it acts at once; the requests answered meanwhile are counted on our side). A dump is
// split by function name into V8's compilers, its garbage collector and the rest, the server's own work
// (JavaScript of the app, Node and the library, and the runtime calls they make). Rows give the median own
// work per request and the mean GC and compiler work; "added" is the median over windows of the difference to
// the base contender's same window (bare for the library rows), and with ROUTEMETER_BENCH_DIST_BEFORE a line
// per `…-before` pair gives a change's effect the same way. `--top N` prints the N functions with the most own
// work per request in the last window, JavaScript ones named from V8's `--perf-basic-prof` map.
//
// What this does not see: time in the kernel (a getrusage or clock_gettime syscall counts a few instructions,
// not its µs), cache misses, and what an instruction costs on a machine. It measures work, bench/paired.mjs
// measures time; a change that removes work shows here first.
//
// The requests are the ones the other benches send (paths.mjs: fresh ids, five path shapes), over
// `--connections` keep-alive connections, one request in flight on each. One by default: every request then
// takes the same way through the loop (read, handle, write, back to epoll), and bare node:http's count
// repeats to ±1 %; more connections let reads coalesce as timing allows. Counting does not depend on what else
// runs, so `--jobs` servers (default: one per core) are counted at once.
import { execFile, execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { CONTENDERS } from './contenders.mjs'
import { pathFactory } from './paths.mjs'
import { median } from './lib/stats.mjs'
import { startReceivers } from './lib/receivers.mjs'
import { CLOCK_CALLS } from './lib/clock-calls.mjs'
import { DIST, DIST_BEFORE } from './lib/dist.mjs'
import { scaledClockBuild } from './lib/scaled-clock.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const { values: args } = parseArgs({
  options: {
    only: { type: 'string' }, routes: { type: 'string' }, warmup: { type: 'string' }, windows: { type: 'string' },
    requests: { type: 'string' }, connections: { type: 'string' }, repeat: { type: 'string' }, jobs: { type: 'string' },
    top: { type: 'string' }, out: { type: 'string' }, 'clock-scale': { type: 'string' }, count: { type: 'boolean' },
  },
})
const wanted = new Set((args.only ?? 'floor,rm-discard,rm-discard-nocpu').split(','))
for (const c of CONTENDERS) if (wanted.has(c.name)) wanted.add(c.base)
const list = CONTENDERS.filter((c) => wanted.has(c.name))
const routes = (args.routes ?? 'tiny,json,await20').split(',')
// V8 keeps tiering the request path up for a while: on Node 24's tiny route a Turbofan compile worth ~300 M
// instructions came around request 19,500, and bare's count per request then fell from 54,000 to 44,000.
const WARMUP = Number(args.warmup ?? 21_000)
const WINDOWS = Number(args.windows ?? 4)
const PER_WINDOW = Number(args.requests ?? 1500)
if (PER_WINDOW % 500 !== 0) throw new TypeError('--requests must be a multiple of 500, the batch size (see ROUTEMETER_OPTIONS)')
const CONNECTIONS = Number(args.connections ?? 1)
const REPEAT = Number(args.repeat ?? 1)
const JOBS = Number(args.jobs ?? os.availableParallelism())
// V8's compiler and GC threads take work in whatever order the OS runs them: with them, a window of the same
// 1,500 requests counted 0 to 260 M instructions on helper threads. On one thread the same work is counted
// in the order the requests cause it.
const NODE_FLAGS = ['--single-threaded']
const TOP = Number(args.top ?? 0)
if (TOP > 0) NODE_FLAGS.push('--perf-basic-prof')
// Records are named at flush, 500 at a time. With the default 1 s flush timer, a window held 2 to 4 flushes as
// valgrind's pace allowed, and the naming work counted in it swung by 20 %. With flushes only every 500
// records, a window of a multiple of 500 requests holds the same number of them wherever it starts.
const ROUTEMETER_OPTIONS = { flushInterval: 3_600_000 }
// Under callgrind the attributed clock sees every stretch ≈ 100× longer than it is and does its per-stretch work
// (the GC refund's ring, the guard's CPU reads) far more often than at full speed. `--clock-scale N` runs the
// routemeter rows on a copy of the build whose clock thresholds are N× theirs (lib/scaled-clock.mjs).
const CLOCK_SCALE = Number(args['clock-scale'] ?? 1)
const scaledBuilds = CLOCK_SCALE === 1 ? [] : [['ROUTEMETER_BENCH_DIST', DIST], ['ROUTEMETER_BENCH_DIST_BEFORE', DIST_BEFORE]]
  .filter(([, dist]) => dist !== null)
  .map(([variable, dist]) => (process.env[variable] = scaledClockBuild(dist, CLOCK_SCALE)))
// `--count`: each server also counts the clock reads its code makes over the windows (lib/clock-calls.mjs), to
// check what the clock does per request against paired.mjs --count at full speed. Counting adds instructions:
// take the counts of work from runs without it.
if (args.count) process.env.ROUTEMETER_BENCH_COUNT = '1'
const log = (...xs) => console.error(...xs)

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' })
} catch {
  throw new Error('instructions.mjs needs valgrind (Debian package valgrind)')
}

/** Keeps `connections` keep-alive connections busy with GETs of `route`'s paths, one in flight on each, until stopped. */
function startLoad(port, route, connections) {
  const nextPath = pathFactory(route)
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  const state = { answered: 0, running: true, failure: null, stopped: null }
  const worker = async () => {
    while (state.running) {
      await new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: nextPath(), agent }, (res) => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode} on ${route}`))
          res.resume()
          res.on('end', resolve)
        }).on('error', reject)
      })
      state.answered++
    }
  }
  state.stopped = Promise.all(Array.from({ length: connections }, worker))
    .catch((error) => { state.failure = error })
    .finally(() => agent.destroy())
  return state
}

/** Resolves once `state.answered` reaches `count` (polled: the load loop must not wait on us). */
async function answeredReaches(state, count) {
  while (state.answered < count) {
    if (state.failure !== null) throw state.failure
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Waits for one IPC message of `type` from `child`. */
function message(child, type, what) {
  return new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (msg.type === 'error') { cleanup(); reject(new Error(`${what}: ${msg.message}`)) }
      if (msg.type === type) { cleanup(); resolve(msg) }
    }
    const onExit = (code) => { cleanup(); reject(new Error(`${what} exited (${code}) before '${type}'`)) }
    const cleanup = () => { child.off('message', onMessage); child.off('exit', onExit) }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

/**
 * Asks callgrind in `pid` to zero or dump its counters; resolves once it has (it acts at once while the
 * process is busy, which it is: the load never stops during a window). Returns the requests answered by then.
 */
async function control(pid, command, state) {
  const before = state.answered
  await new Promise((resolve, reject) => {
    execFile('callgrind_control', [command, String(pid)], (error) => (error ? reject(error) : resolve()))
  })
  // Somewhere between the command and its answer: the middle, off by at most half of the (few) in between.
  return (before + state.answered) / 2
}

// Which of V8's own C++ functions are its compilers and its garbage collector, by name (the node binary keeps
// its symbols): their work comes in lumps (a Turbofan compile of the request path was ~300 M instructions,
// 200,000 a request over a window of 1,500), so it is counted apart from the rest, which repeats to ~0.1 %.
const COMPILER = new RegExp('v8::internal::(?:compiler::|maglev::|baseline::|interpreter::Bytecode|Parser|Compiler|' +
  'OptimizingCompile|Zone)|^Builtins_CompileLazy')
// `IterateObjectCache` is the collector visiting the snapshot's object caches as roots, in its pauses: on
// the json route it was 18,900 instructions a request in bare node:http and ~1,000 with the library merely
// imported (nothing else differed), so counted as own work it made bare look 14,000 dearer than itself.
const GC = new RegExp('cppgc::|heap::base::|v8::internal::[A-Za-z]*(?:Heap|Scaveng|Mark|Sweep|Evacuat|GC|Gc|Space|Compaction|' +
  'RememberedSet|SlotSet|Semi|Minor|FreeList|MemoryAllocator|Collector|WeakObject|Ephemeron|MemoryChunk|MutablePage|Incremental|' +
  '\\(anonymous namespace\\)::IterateObjectCache)')

/** Self cost per category in one callgrind dump: `[total, compiler, gc]` instructions; per function into `perFunction`. */
function categorise(text, perFunction) {
  let total = 0
  let compiler = 0
  let gc = 0
  let kind = 0 // of the function whose cost lines follow: 0 other, 1 compiler, 2 gc
  let name = ''
  let inclusive = false // the cost line after `calls=` is the callee's inclusive cost, not this function's own
  for (const line of text.split('\n')) {
    const c = line.charCodeAt(0)
    if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42) { // a cost line: position, then Ir
      if (inclusive) { inclusive = false; continue }
      const cost = Number(line.slice(line.indexOf(' ') + 1))
      total += cost
      if (perFunction !== undefined) perFunction.set(name, (perFunction.get(name) ?? 0) + cost)
      if (kind === 1) compiler += cost
      else if (kind === 2) gc += cost
    } else if (line.startsWith('fn=')) {
      name = line.slice(3)
      kind = COMPILER.test(name) ? 1 : GC.test(name) ? 2 : 0
    } else if (line.startsWith('calls=')) {
      inclusive = true
    }
  }
  return [total, compiler, gc]
}

/** Instructions per request over one window of `PER_WINDOW` requests: `{ rest, compiler, gc }`. */
async function countWindow(pid, out, state, perFunction) {
  const from = await control(pid, '--zero', state)
  await answeredReaches(state, from + PER_WINDOW)
  const to = await control(pid, '--dump', state)
  const dumps = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(path.basename(out) + '.'))
  const sum = [0, 0, 0]
  for (const f of dumps) {
    const file = path.join(os.tmpdir(), f)
    const [total, compiler, gc] = categorise(fs.readFileSync(file, 'utf8'), perFunction)
    sum[0] += total
    sum[1] += compiler
    sum[2] += gc
    if (process.env.ROUTEMETER_BENCH_KEEP) fs.renameSync(file, path.join(process.env.ROUTEMETER_BENCH_KEEP, `${f}-${Date.now()}`))
    else fs.rmSync(file)
  }
  const requests = to - from
  if (perFunction !== undefined) for (const [name, cost] of perFunction) perFunction.set(name, cost / requests)
  return { rest: (sum[0] - sum[1] - sum[2]) / requests, compiler: sum[1] / requests, gc: sum[2] / requests }
}

/**
 * With `--top N`: the N functions outside the compilers and the GC that ran the most instructions per request
 * in `perFunction` (one window),
 * JavaScript ones named from the perf map V8 writes under `--perf-basic-prof` (callgrind knows JIT code only
 * by address).
 */
function topFunctions(perFunction, pid, count) {
  const ranges = []
  const mapFile = `/tmp/perf-${pid}.map`
  if (fs.existsSync(mapFile)) {
    for (const line of fs.readFileSync(mapFile, 'utf8').split('\n')) {
      const [start, size, ...name] = line.split(' ')
      if (name.length > 0) ranges.push([parseInt(start, 16), parseInt(size, 16), name.join(' ')])
    }
    ranges.sort((a, b) => a[0] - b[0])
    if (process.env.ROUTEMETER_BENCH_KEEP) fs.copyFileSync(mapFile, path.join(process.env.ROUTEMETER_BENCH_KEEP, path.basename(mapFile)))
    fs.rmSync(mapFile, { force: true })
  }
  const resolve = (address) => {
    let lo = 0
    let hi = ranges.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (ranges[mid][0] <= address) lo = mid + 1
      else hi = mid - 1
    }
    const range = ranges[hi]
    return range !== undefined && address < range[0] + range[1] ? range[2] : undefined
  }
  const named = new Map()
  for (const [fn, cost] of perFunction) {
    if (COMPILER.test(fn) || GC.test(fn)) continue
    const js = /^0x[0-9a-f]+$/.test(fn) ? resolve(parseInt(fn, 16)) : undefined
    const name = js ?? fn
    named.set(name, (named.get(name) ?? 0) + cost)
  }
  return [...named].sort((a, b) => b[1] - a[1]).slice(0, count)
}

/** Instructions per request of one server process under load: a warm-up, then `windows` counted windows. */
async function countServer(contender, route) {
  const out = path.join(os.tmpdir(), `routemeter-ir-${process.pid}-${contender.name}-${route}.out`)
  const child = spawn('valgrind', [
    '--tool=callgrind', `--callgrind-out-file=${out}`, '--dump-line=no', '--compress-strings=no', '--separate-threads=yes',
    process.execPath, ...NODE_FLAGS, path.join(here, 'server.mjs'), contender.name,
    // A control with a receiver of its own (bare-redis…) gets its address too, or its client would find the machine's Redis.
    JSON.stringify(contender.routemeter ? { ...ROUTEMETER_OPTIONS, ...receivers.optionsFor(contender) }
      : contender.needs ? receivers.optionsFor(contender) : {}),
  ], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-4000) })
  let state
  try {
    const { port } = await message(child, 'ready', contender.name)
    state = startLoad(port, route, CONNECTIONS)
    await answeredReaches(state, WARMUP)
    if (args.count) {
      const started = message(child, 'started', contender.name)
      child.send({ type: 'start' })
      await started
    }
    const values = []
    const perFunction = new Map()
    for (let w = 0; w < WINDOWS; w++) {
      values.push(await countWindow(child.pid, out, state, TOP > 0 && w === WINDOWS - 1 ? perFunction : undefined))
    }
    if (args.count) {
      const stopped = message(child, 'stopped', contender.name)
      child.send({ type: 'stop' })
      const { calls, requests } = await stopped
      log(`${contender.name} on ${route}, clock reads per request: ` +
        CLOCK_CALLS.map((k) => `${k} ${(calls[k] / requests).toFixed(3)}`).join(', '))
    }
    state.running = false
    await state.stopped
    if (state.failure !== null) throw state.failure
    // Counted, then checked like the other benches: the server answered and recorded what it served.
    const verified = message(child, 'verified', contender.name)
    child.send({ type: 'verify' })
    const verdict = await verified
    const received = await receivers.check(contender, verdict.served)
    if (!verdict.ok || !received.ok) throw new Error(`VERIFY FAILED: ${verdict.detail}; ${received.detail}`)
    if (TOP > 0) {
      const lines = topFunctions(perFunction, child.pid, TOP)
        .map(([name, cost]) => `  ${cost.toFixed(0).padStart(7)}  ${name.slice(0, 150)}`)
      log(`${contender.name} on ${route}, last window, instructions per request by function:\n${lines.join('\n')}`)
    }
    return values
  } catch (error) {
    throw new Error(`${contender.name} on ${route}: ${error.message}; valgrind said: ${stderr.slice(-800)}`, { cause: error })
  } finally {
    if (state) state.running = false
    child.kill('SIGKILL')
    for (const f of fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(path.basename(out)))) {
      fs.rmSync(path.join(os.tmpdir(), f), { force: true })
    }
  }
}

// What the Redis and StatsD rows send to (a redis-server of our own, UDP sockets): they run beside the counted
// servers, outside valgrind.
const receivers = await startReceivers(list)
const perRequest = new Map() // `${contender}|${route}` → instructions per request, one per window
const started = Date.now()
log(`node ${process.version}; contenders ${list.map((c) => c.name).join(',')}; routes ${routes.join(',')}; ` +
  `${WARMUP} warm-up requests, then ${WINDOWS} windows of ${PER_WINDOW}, ${CONNECTIONS} connection(s), ${REPEAT} process(es) each`)
// Counting does not depend on what else runs, so servers are counted side by side, `--jobs` at a time.
const tasks = []
for (let r = 0; r < REPEAT; r++) for (const route of routes) for (const c of list) tasks.push({ c, route })
async function worker() {
  for (let task = tasks.shift(); task !== undefined; task = tasks.shift()) {
    const values = await countServer(task.c, task.route)
    const key = `${task.c.name}|${task.route}`
    if (!perRequest.has(key)) perRequest.set(key, [])
    perRequest.get(key).push(...values)
    const shown = values.map((v) => `${v.rest.toFixed(0)}+${v.gc.toFixed(0)}+${v.compiler.toFixed(0)}`)
    log(`${key}: ${shown.join(' ')} instructions/request (own+gc+compilers)`)
  }
}
try {
  await Promise.all(Array.from({ length: JOBS }, worker))
} finally {
  for (const dist of scaledBuilds) fs.rmSync(path.dirname(dist), { recursive: true, force: true })
  await receivers.close()
}

const fmt = (x) => Math.round(x).toLocaleString('en-US')
const signed = (x) => (x >= 0 ? '+' : '−') + fmt(Math.abs(x))
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length
/**
 * The median over windows of `own[i] − base[i]`: window i of every server covers the same stretch of the
 * request sequence (same warm-up, same window length), and the naming work in a window depends on where in the
 * sequence it lies (the learned model changes, the path cache empties): on the tiny route the own work of one
 * server moved by up to 12 % from window to window, the same way in every build.
 */
const pairedMedian = (own, base, pick) => median(own.slice(0, base.length).map((v, i) => pick(v) - pick(base[i])))
const rows = []
console.log('| server | route | instructions/request: own work (median) | + GC (mean) | + compilers (mean) | ' +
  'own work added over base (paired windows) | own work + GC added | added / base | spread of own work |')
console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|')
for (const route of routes) {
  for (const c of list) {
    const own = perRequest.get(`${c.name}|${route}`)
    const base = perRequest.get(`${c.base}|${route}`)
    const rest = median(own.map((v) => v.rest))
    const gc = mean(own.map((v) => v.gc))
    const compiler = mean(own.map((v) => v.compiler))
    const added = pairedMedian(own, base, (v) => v.rest)
    const addedWithGc = pairedMedian(own, base, (v) => v.rest + v.gc)
    const baseRest = median(base.map((v) => v.rest))
    const isBase = c.name === c.base
    const rests = own.map((v) => v.rest)
    rows.push({ server: c.name, route, rest, gc, compiler, added, addedWithGc, windows: own })
    console.log(`| ${c.name} | ${route} | ${fmt(rest)} | ${fmt(gc)} | ${fmt(compiler)} | ` +
      `${isBase ? '-' : signed(added)} | ${isBase ? '-' : signed(addedWithGc)} | ` +
      `${isBase ? '-' : `${(100 * added / baseRest).toFixed(1)} %`} | ${fmt(Math.min(...rests))}…${fmt(Math.max(...rests))} |`)
  }
}
// A build against an older one (ROUTEMETER_BENCH_DIST_BEFORE): paired window by window, like the rows above.
for (const route of routes) {
  for (const c of list.filter((x) => list.some((y) => y.name === `${x.name}-before`))) {
    const after = perRequest.get(`${c.name}|${route}`)
    const before = perRequest.get(`${c.name}-before|${route}`)
    const diffs = after.slice(0, before.length).map((v, i) => v.rest - before[i].rest)
    console.log(`${c.name} on ${route}, own work, this build − the older one, paired windows: ${signed(median(diffs))} ` +
      `[${diffs.map(signed).join(', ')}]`)
  }
}
log(`${((Date.now() - started) / 1000).toFixed(0)} s`)
if (args.out) {
  fs.writeFileSync(args.out, JSON.stringify({
    node: process.version, when: new Date().toISOString(), warmup: WARMUP, windows: WINDOWS, requests: PER_WINDOW,
    connections: CONNECTIONS, clockScale: CLOCK_SCALE, rows,
  }, null, 2))
}
