#!/usr/bin/env node
// What the attributed clock's switch hook costs per await and per native callback, on the Node that runs
// this script: the unit costs behind "what does `cpu: 'attributed'` add to my route".
//
//   node bench/hook-cost.mjs [--rounds 5]                    # against ../dist (build first)
//   ROUTEMETER_BENCH_DIST=/tmp/x/dist /path/to/node24 bench/hook-cost.mjs
//
// Hooks are process-wide and stay for the process's life, so each variant runs in a fresh child process (pinned to one
// core when `taskset` exists), rounds interleaved, the median round printed with the fastest and slowest:
//
//   none             no hook of ours: the work itself, plus what the library's AsyncLocalStorage costs on its
//                    own (what `cpu: false` pays; before Node 24 that storage runs on async_hooks' promise
//                    hooks, so this row already pays per await there)
//   promise-hook     an empty V8 promise hook (`v8.promiseHooks.onBefore(() => {})`): what V8 charges for
//                    running any promise hook at all, whatever the hook does
//   attributed       the library's own clock (`attributedClock()`): the switch hook of this Node version
//                    (cpu-switch-hook.ts), the slot switches, the preemption guard, the GC-pause observer. Its
//                    hooks are on only while a request waits; one is kept waiting, so they stay on throughout
//
// And once per round, a child that times the switch hook's off and on (`installSwitchHook(…).off()`, `.on()`):
// what the attributed clock pays when a request that needs the hooks follows one that turned them off.
//
// Where AsyncLocalStorage runs on async_hooks (Node 20, 22), two more, each a hook that only reads the store
// of the callback about to run (what the clock's switch needs) and counts it:
//   async-before     an async_hooks `before` hook calling `getStore()`: what this Node's mechanism pays
//   resource-store   the same hook kept off promises (`kNoPromiseHook`, Node 22) plus a V8 promise hook reading
//                    the store the storage's `init` hook left on the promise (`promise[kResourceStore]`): the
//                    store that reaction runs with, whatever order the hooks were enabled in. The mechanism
//                    Node 24 uses, carried over to the hook-based storage; it is not used there because it
//                    costs more, not less: Node already runs its own promise hooks for that storage, so a
//                    V8 hook is a second call per reaction (Node 22.23, 5 rounds: 169 ns per await one chain at
//                    a time against 143 for async-before and 132 for none). Not on Node 20, which has no
//                    `kNoPromiseHook`
//
// Two workloads, each run inside contexts of the library's AsyncLocalStorage, as requests are:
//   awaits           chains of 20 `n = await step(n)` (an async function call and its await, the shape of a
//                    middleware chain), each in its own context, one after the other (a request's awaits,
//                    one context switch per chain) and 10 at once (their reactions interleave: a context
//                    switch per await): ns per await, and young-generation collections per million awaits
//                    of the first kind (an active promise hook makes V8 allocate more per await)
//   round trips      a loopback TCP ping-pong of one byte: µs of process CPU per round trip (each is two
//                    socket reads and two write completions, native callbacks that run the `before` hook)
//
// Checks before reporting: every variant completed the same number of awaits and round trips, and the
// attributed variant charged CPU to the contexts it ran (its slots' thread time is above 0).
import { AsyncLocalStorage, createHook } from 'node:async_hooks'
import { execFileSync, spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'
import { performance, PerformanceObserver } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { promiseHooks } from 'node:v8'
import { DIST } from './lib/dist.mjs'

// The hook-based AsyncLocalStorage keeps each instance's store under a symbol of its own (`kResourceStore`).
const onAsyncHooks = typeof new AsyncLocalStorage().kResourceStore === 'symbol'
const noPromiseHookOf = (hook) => Object.getOwnPropertySymbols(hook).find((s) => s.description === 'kNoPromiseHook')
const VARIANTS = [
  'none', 'promise-hook', 'attributed',
  ...(onAsyncHooks ? ['async-before'] : []),
  ...(onAsyncHooks && noPromiseHookOf(createHook({})) !== undefined ? ['resource-store'] : []),
]
const CHAINS = 10
const AWAITS = 20
const CHAIN_ROUNDS = 20_000
const ROUND_TRIPS = 20_000

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, child: { type: 'string' } } })

if (values.child !== undefined) await child(values.child)
else parent(Number(values.rounds))

function parent(rounds) {
  const here = fileURLToPath(import.meta.url)
  const pin = spawnSync('taskset', ['-c', '0', 'true']).status === 0 ? ['taskset', '-c', '0'] : []
  const results = new Map(VARIANTS.map((v) => [v, []]))
  const toggles = []
  for (let round = 0; round < rounds; round++) {
    // Rotate the order so no variant always runs first on a warming machine.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length])
    for (const variant of order) {
      const argv = [...pin, process.execPath, here, '--child', variant]
      const out = execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', env: process.env })
      results.get(variant).push(JSON.parse(out))
    }
    const argv = [...pin, process.execPath, here, '--child', 'toggle']
    toggles.push(JSON.parse(execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', env: process.env })).nsPerToggle)
  }
  const first = results.get('none')[0]
  for (const [variant, runs] of results) {
    for (const r of runs) {
      if (r.awaits !== first.awaits || r.roundTrips !== first.roundTrips) throw new Error(`${variant} did a different amount of work`)
    }
  }
  if (!results.get('attributed').every((r) => r.charged > 0)) throw new Error('the attributed clock charged nothing to the contexts it ran')
  for (const variant of ['async-before', 'resource-store']) {
    if (results.has(variant) && !results.get(variant).every((r) => r.storesSeen >= r.awaits)) {
      throw new Error(`${variant} read no store for some awaits: ${results.get(variant).map((r) => r.storesSeen).join(', ')}`)
    }
  }

  const stat = (xs) => {
    const s = [...xs].sort((a, b) => a - b)
    return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] }
  }
  console.log(`node ${process.version}, ${process.platform}/${process.arch}, ${rounds} rounds${pin.length ? ', pinned to core 0' : ''}`)
  console.log(`${CHAINS} chains × ${AWAITS} awaits × ${CHAIN_ROUNDS} rounds; ${ROUND_TRIPS} loopback round trips; median [min…max]`)
  console.log(
    '| variant | ns per await, one chain at a time | young-gen GCs per 1M awaits | ns per await, 10 interleaved | µs CPU per round trip |',
  )
  console.log('|---|--:|--:|--:|--:|')
  for (const [variant, runs] of results) {
    const range = (x, digits) => `${x.median.toFixed(digits)} [${x.min.toFixed(digits)}…${x.max.toFixed(digits)}]`
    const ns = stat(runs.map((r) => r.nsPerAwait))
    const gcs = stat(runs.map((r) => r.minorGcPerMillion))
    const mixed = stat(runs.map((r) => r.nsPerInterleavedAwait))
    const rt = stat(runs.map((r) => r.usPerRoundTrip))
    console.log(`| ${variant} | ${range(ns, 0)} | ${gcs.median.toFixed(0)} | ${range(mixed, 0)} | ${range(rt, 2)} |`)
  }
  const t = stat(toggles)
  console.log(`switch hook off then on again: ${t.median.toFixed(0)} ns [${t.min.toFixed(0)}…${t.max.toFixed(0)}]`)
}

/** ns per `off()` + `on()` of the switch hook, with the hook's store reads as the clock installs them. */
function toggleChild() {
  const require = createRequire(import.meta.url)
  const { requestContext } = require(path.join(DIST, 'collect', 'context.js'))
  const hook = require(path.join(DIST, 'collect', 'cpu-switch-hook.js')).installSwitchHook(requestContext, () => {})
  hook.on()
  const pairs = (n) => {
    const t0 = performance.now()
    for (let i = 0; i < n; i++) {
      hook.off()
      hook.on()
    }
    return ((performance.now() - t0) * 1e6) / n
  }
  pairs(10_000) // warm-up
  process.stdout.write(JSON.stringify({ nsPerToggle: pairs(100_000) }))
}

async function child(variant) {
  if (variant === 'toggle') return toggleChild()
  const require = createRequire(import.meta.url)
  const { requestContext } = require(path.join(DIST, 'collect', 'context.js'))
  const slot = (i) => ({ i, onThread: 0, refunded: 0, end: 0, closed: false, blocks: 0, start: 0, live: true, watched: false, res: null })
  const slots = Array.from({ length: CHAINS }, (_, i) => slot(i))
  if (variant === 'promise-hook') promiseHooks.onBefore(() => {})
  if (variant === 'attributed') {
    // A request whose listener returned without ending its response: the clock keeps its hooks on for it.
    const clock = require(path.join(DIST, 'collect', 'cpu-attributed.js')).attributedClock()
    const waiting = slot(-1)
    waiting.start = performance.now() // what the recorder reads right before entry
    clock.leave(waiting, clock.enter(waiting))
  }
  // Callbacks that ran with a store of ours, as the two store-reading variants saw them.
  let storesSeen = 0
  const countStore = () => { if (requestContext.getStore() !== undefined) storesSeen++ }
  if (variant === 'async-before') createHook({ before: countStore }).enable()
  if (variant === 'resource-store') {
    const hook = createHook({ before: countStore })
    hook[noPromiseHookOf(hook)] = true
    hook.enable()
    const kStore = requestContext.kResourceStore
    promiseHooks.onBefore((promise) => { if (promise[kStore] !== undefined) storesSeen++ })
  }

  let minorGcs = 0
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if ((entry.detail?.kind ?? entry.kind) === 1) minorGcs++
  })
  observer.observe({ type: 'gc' })

  async function step(n) { return n + 1 }
  async function chain() {
    let n = 0
    for (let i = 0; i < AWAITS; i++) n = await step(n)
    return n
  }
  async function oneAtATime(rounds) {
    let total = 0
    for (let r = 0; r < rounds; r++) for (const s of slots) total += await requestContext.run(s, chain)
    return total
  }
  async function interleaved(rounds) {
    let total = 0
    for (let r = 0; r < rounds; r++) {
      for (const n of await Promise.all(slots.map((s) => requestContext.run(s, chain)))) total += n
    }
    return total
  }
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve)) // lets GC entries arrive
  await oneAtATime(CHAIN_ROUNDS / 10) // warm-up
  await interleaved(CHAIN_ROUNDS / 10)
  await nextTurn()
  minorGcs = 0
  let t0 = performance.now()
  const awaits = await oneAtATime(CHAIN_ROUNDS)
  const awaitMs = performance.now() - t0
  await nextTurn()
  const minor = minorGcs
  t0 = performance.now()
  const interleavedAwaits = await interleaved(CHAIN_ROUNDS)
  const interleavedMs = performance.now() - t0
  if (interleavedAwaits !== awaits) throw new Error('the interleaved chains did a different amount of work')

  // Round trips: the client socket is opened inside a context, so its callbacks carry a store, as a request's do.
  const server = net.createServer((socket) => socket.on('data', (d) => socket.write(d)))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const socket = requestContext.run(slots[0], () => net.connect(server.address().port, '127.0.0.1'))
  await new Promise((resolve) => socket.once('connect', resolve))
  const roundTrips = (n) => new Promise((resolve) => {
    let left = n
    const before = process.cpuUsage()
    socket.on('data', function onData() {
      if (--left > 0) return void socket.write('x')
      socket.off('data', onData)
      const used = process.cpuUsage(before)
      resolve((used.user + used.system) / n)
    })
    socket.write('x')
  })
  await roundTrips(ROUND_TRIPS / 10) // warm-up
  const usPerRoundTrip = await roundTrips(ROUND_TRIPS)
  socket.destroy()
  server.close()
  observer.disconnect()

  process.stdout.write(JSON.stringify({
    variant,
    awaits, // each chain returns AWAITS: the sum over chains and rounds counts the awaits
    roundTrips: ROUND_TRIPS,
    nsPerAwait: (awaitMs * 1e6) / awaits,
    minorGcPerMillion: (minor * 1e6) / awaits,
    nsPerInterleavedAwait: (interleavedMs * 1e6) / awaits,
    usPerRoundTrip,
    charged: slots.reduce((sum, s) => sum + s.onThread, 0),
    storesSeen,
  }))
}
