import { performance } from 'node:perf_hooks'
import { requestContext } from './context.js'
import type { CpuClock } from './cpu-clock.js'
import { installSwitchHook, type SwitchHook, type SwitchHookKind } from './cpu-switch-hook.js'
import { threadCpuClock, type ThreadCpuKind } from './cpu-thread.js'
import { keepStretch, MIN_KEPT_MS, refundGcPauses, type Refundable } from './gc-refund.js'
import type { Collector } from './collector.js'

/*
 * `cpu: 'attributed'` — charge each request the time its own callbacks held the thread, until its response ends.
 *
 *   before(cb) ─► cb's request (or OUTSIDE) differs from the running one? ─► charge the running one
 *                 (now − since − loop idle time since; a hold > 1 ms: the thread CPU across it), switch ─► cb runs
 *   response ends ─► the request's CpuTime is fixed; what its callbacks do later is not billed to it
 *
 * The hooks are on only while they have something to see: a request whose listener returned before its
 * response ended (or with a `metrics.timed` block still running). A listener that ends its response before it
 * returns, as most synchronous routes do, is measured by `enter` and `leave` alone, and once no request is
 * waiting, the next such one turns the hooks off (`leave`, below).
 *
 * Node runs one JavaScript callback at a time, so the thread time between two switches belongs to the request
 * whose AsyncLocalStorage store the callbacks carried. How `before` is learned depends on the Node version
 * (cpu-switch-hook.ts: V8 promise hooks on Node 24, async_hooks elsewhere), chosen once. The clock is read
 * only when the running request changes: consecutive callbacks of one request (its promise reactions,
 * mostly) cost a hook call and a store lookup. Time the loop waited in epoll is taken out with libuv's
 * idle-time counter (`performance.nodeTiming.idleTime`, ≈ 30 ns), read at the same switches. Clock costs here
 * and below: `node bench/clock-cost.mjs`, Node 20.20 and 24.22 on a 2-core x64 Linux VM.
 *
 * Why no `after` hook (it would end each hold exactly): measured on the bench's tiny route (Node 20), an
 * `after` hook that switches to "idle" made routemeter add 13.0 µs/request instead of 3.4 µs (an empty
 * `after` alone: 8.3 µs), because it fires for every callback and promise reaction. The price of leaving it
 * out: work the thread does between callbacks outside any async resource (V8's GC finalisation tasks,
 * mostly) is billed to the request that ran last. Garbage-collection pauses are given back afterwards, from
 * the pause times Node reports (gc-refund.ts): they belong to no request.
 *
 * Why a CPU clock for long holds: wall time on the thread overstates CPU when the OS preempts the thread (on a
 * loaded machine, 20 ms burns of 14–18 ms thread CPU were billed 20.5 ms), so a hold longer than 1 ms is
 * charged the thread's CPU across it (cpu-thread.ts). Short holds stay on `performance.now()` (≈ 42 ns
 * against ≈ 0.84 µs for the guard's CPU read on Node 24, ≈ 1.8 µs on Node 20): with 2–3 switches per
 * request, a CPU read at every switch would cost 1.7–5.4 µs a request. The other way considered, scaling
 * every request by a process-CPU / thread-time ratio once per flush, was measured and dropped: it billed GC
 * and JIT threads (+9% on 20 ms burners) and double-corrected capped holds (20 ms burns reported as 9 ms on
 * 2 loaded cores).
 *
 * OUTSIDE collects callbacks of no request (HTTP parsing before the listener, the app's own timers).
 */

/**
 * A request's collector, or OUTSIDE. Callbacks of a request that is not `live` run as OUTSIDE: its response
 * has ended (its CpuTime is fixed) and no `metrics.timed` block it started is still running (`blocks`: that
 * block's `.cpu` still counts them).
 */
interface Slot extends Refundable {
  closed: boolean
  blocks: number
  /** Its callbacks are billed to it: from `enter` until its response ends and its blocks are done. */
  live: boolean
  /** Counted in `watching`: it was still live when its listener returned. */
  watched: boolean
  /** The response, while open: `writableEnded` tells whether the listener ended it. */
  res: { readonly writableEnded?: boolean } | null
}

const OUTSIDE: Slot = { onThread: 0, refunded: 0, end: 0, closed: false, blocks: 0, live: false, watched: false, res: null }
const loop = performance.nodeTiming

let current: Slot = OUTSIDE

// The preemption guard. A hold longer than LONG_HOLD_MS is charged at most the thread CPU that passed since the
// last CPU sample, minus the busy time of the holds between that sample and this hold (which used at most that
// much CPU; what the OS took from them is the guard's error: the long hold is charged that much too little). A
// sample is taken at a switch once `at.samplePeriod` of busy time has passed since the last one, so the reads
// follow busy time, not requests or wall time: an idle server reads nothing.
//
// How often: as often as the preemption seen makes it worth it. Each sample measures the share of the busy
// time since the one before that the thread did not run (busy − CPU); the next period is the longest whose
// expected loss stays within MISSED_BUDGET_MS, between CPU_SAMPLE_MS and CPU_SAMPLE_MAX_MS (samplePeriodFor),
// but never more than twice the last one: the period shortens at once and at most doubles (1 → 2 → 4 → 8 ms
// while the core stays free), each step only after a window as long as itself (one clean 1 ms window says
// little about the next 8 ms). A long hold that was itself cut by more than the budget drops the period to
// CPU_SAMPLE_MS at once. How often that reads, alone and beside other processes: README.md, "The preemption
// guard reads the CPU as often as the OS takes the core". Why: on a VM with PTI and no `pcid` a read (two
// system calls) costs a json request far more than its 3.4 µs, as the TLB refills after it; a fixed 4 ms
// period there cost 7.1 µs less a json request (median of six paired runs, bench/README.md), but a fixed
// period longer than 1 ms lets the error grow with it on a loaded core, where an adaptive one shortens again.
// Where the only CPU clock is the process's (no thread source: Node 20 off Linux, mostly), the period stays
// at 1 ms: the helper threads' CPU (GC, JIT) fills in what the OS took from this one and would hide it.
const LONG_HOLD_MS = 1
const CPU_SAMPLE_MS = 1
const CPU_SAMPLE_MAX_MS = 8
const MISSED_BUDGET_MS = 0.05

/**
 * The guard's next sample period (ms of busy time) after a sample that found `lostShare` of the busy time since
 * the one before taken by the OS, when the period was `lastPeriod`: the longest period whose expected loss is at
 * most MISSED_BUDGET_MS, at most twice `lastPeriod` and at most `cap`.
 *
 * @example
 * samplePeriodFor(0, 8)     // 8: the thread had its core
 * samplePeriodFor(NaN, 4)   // 4: nothing measured, nothing changed
 * samplePeriodFor(0, 1)     // 2: lengthens one step at a time
 * samplePeriodFor(0.01, 8)  // 5
 * samplePeriodFor(0.3, 8)   // 1: a loaded core
 */
export function samplePeriodFor(lostShare: number, lastPeriod: number, cap = CPU_SAMPLE_MAX_MS): number {
  if (!Number.isFinite(lostShare)) return Math.min(lastPeriod, cap) // no measure: no reason to change
  // A share of 0 or less (more CPU than busy time: the loop's epoll calls count as idle) fits any period.
  const fits = lostShare * CPU_SAMPLE_MAX_MS > MISSED_BUDGET_MS
    ? Math.max(CPU_SAMPLE_MS, MISSED_BUDGET_MS / lostShare)
    : CPU_SAMPLE_MAX_MS
  return Math.min(fits, 2 * lastPeriod, cap)
}

/**
 * The clock's numbers, as fields of one object rather than module-level `let`s: V8 keeps a double field in a
 * box it updates in place, while every store of a double into a module-level `let` allocates a new heap number
 * (and a write barrier), four of them at each switch.
 */
const at = {
  /** `performance.now()` at the last switch. */
  since: performance.now(),
  /** libuv's idle time at the last switch. */
  idleSince: loop.idleTime,
  /** The thread's CPU (µs) at the last sample of the preemption guard (above). */
  sampledCpu: 0,
  /** Busy time (ms) of the holds since that sample. */
  busySinceSample: 0,
  /** Busy time (ms) between samples: CPU_SAMPLE_MS … periodCap (samplePeriodFor). */
  samplePeriod: CPU_SAMPLE_MS,
  /** The longest period the CPU source allows: CPU_SAMPLE_MAX_MS, or CPU_SAMPLE_MS for the process's CPU. */
  periodCap: CPU_SAMPLE_MAX_MS,
  /** The guard's CPU reads so far, its periodic samples, and the long holds cut past the budget (attributedGuard). */
  reads: 0,
  samples: 0,
  cuts: 0,
}

let readCpu: () => number = () => 0

/** Charges the running slot up to now (idle time taken out) and makes `next` the running one. */
function switchTo(next: Slot): Slot {
  return next === current ? next : switchAt(next, loop.idleTime, performance.now())
}

/**
 * `switchTo` for a switch in the same synchronous call stack as the last one (the listener returned): the loop
 * cannot have waited in between, so libuv's idle counter is not read (≈ 30 ns a request).
 */
function switchBack(next: Slot): void {
  if (next !== current) switchAt(next, at.idleSince, performance.now())
}

/** The guard's periodic sample: the new baseline, and the period until the next one from the time the OS took. */
function sample(): void {
  const cpu = readCpu()
  at.reads++
  at.samples++
  const busy = at.busySinceSample
  at.samplePeriod = samplePeriodFor((busy - (cpu - at.sampledCpu) / 1000) / busy, at.samplePeriod, at.periodCap)
  at.sampledCpu = cpu
  at.busySinceSample = 0
}

/** The switch itself, at `now` (a `performance.now()` the caller may already hold: the request's start or end). */
function switchAt(next: Slot, idle: number, now: number): Slot {
  const previous = current
  const onThread = now - at.since - (idle - at.idleSince)
  let held = onThread
  if (held > LONG_HOLD_MS) {
    const cpu = readCpu()
    at.reads++
    const cpuHeld = (cpu - at.sampledCpu) / 1000 - at.busySinceSample
    if (cpuHeld < held) {
      if (held - cpuHeld > MISSED_BUDGET_MS) {
        at.samplePeriod = CPU_SAMPLE_MS
        at.cuts++
      }
      held = cpuHeld
    }
    at.sampledCpu = cpu
    at.busySinceSample = 0
  } else if (held > 0) {
    at.busySinceSample += held
    if (at.busySinceSample > at.samplePeriod) sample()
  }
  if (held > 0) {
    previous.onThread += held
    if (held >= MIN_KEPT_MS) keepStretch(previous, at.since, now, held, onThread)
  }
  current = next
  at.since = now
  at.idleSince = idle
  return previous
}

// Skipping ended requests saves two switches a request while the hooks are on: after the response ends, Node
// still runs two callbacks in the request's context (the socket's write completion, the response's close),
// each a switch in and a switch out that charged nothing anyone reads.
function onCallback(store: Slot | undefined): void {
  switchTo(store === undefined || !store.live ? OUTSIDE : store)
}

/*
 * When the hooks are on. Requests still live after their listener returned are counted (`watching`); while
 * any is, the hooks are on. With none, a request's work is its listener's, between `enter` and `leave`, and
 * every other callback is OUTSIDE's, which is where `current` stays: the hooks would only confirm it. So a
 * listener that ends its response before returning turns them off when none is watched. Turning them off at
 * the last watched request's end instead would toggle them twice a request where requests come one at a time
 * (an off-on pair 615 ns on Node 24.22, 858 on 20.20: `bench/hook-cost.mjs`): off waits for a request that did not
 * need them.
 *
 * Why: on a synchronous route the hooks only confirmed what `enter` and `leave` knew, at Node's dispatch of a
 * `before` for each of the request's ≈ 7 callbacks. `bench/instructions.mjs` on the tiny route, paired with
 * the build before: the default −4,297 instructions a request on Node 24.22 (+13,515 → +9,261 over bare;
 * `cpu: false` +6,536) and −10,121 on Node 20.20 (+31,984 → +22,139; `cpu: false` +13,725). Routes that
 * await keep the hooks on and pay what they did. (On Node 24 only the `before` hook goes off: the V8 promise
 * hook stays, cpu-switch-hook.ts says why.)
 */
let switchHook: SwitchHook | undefined
let watching = 0

/** `c` will have callbacks after its listener returned: the hooks must see them. */
function watch(c: Slot): void {
  if (c.watched) return
  c.watched = true
  watching++
  switchHook!.on()
}

/** `c`'s callbacks are billed to it no more: its response ended and its blocks are done. */
function retire(c: Slot): void {
  c.live = false
  if (!c.watched) return
  c.watched = false
  watching--
}

let mechanism: { hook: SwitchHookKind, cpu: ThreadCpuKind } | undefined
function install(): void {
  if (mechanism !== undefined) return
  const cpu = threadCpuClock()
  readCpu = cpu.read
  at.periodCap = cpu.kind === 'process' ? CPU_SAMPLE_MS : CPU_SAMPLE_MAX_MS
  at.sampledCpu = readCpu()
  at.since = performance.now()
  at.idleSince = loop.idleTime
  switchHook = installSwitchHook<Slot>(requestContext, onCallback)
  mechanism = { hook: switchHook.kind, cpu: cpu.kind }
  refundGcPauses()
}

/**
 * Whether the switch hooks are on now, and how many requests keep them on. For tests and benches.
 *
 * @example
 * attributedHooks() // { on: false, watching: 0 } after a synchronous request, with nothing else open
 */
export function attributedHooks(): { on: boolean, watching: number } {
  return { on: switchHook?.isOn ?? false, watching }
}

/**
 * The preemption guard's state, for tests and benches: its CPU reads so far (`samples` of them periodic), the
 * long holds it found cut by more than the budget (`cuts`: each set the period to 1 ms), and its sample period
 * now (ms of busy time).
 *
 * @example
 * attributedGuard() // { reads: 120, samples: 100, cuts: 0, periodMs: 8 } on a server with a core to itself
 */
export function attributedGuard(): { reads: number, samples: number, cuts: number, periodMs: number } {
  return { reads: at.reads, samples: at.samples, cuts: at.cuts, periodMs: at.samplePeriod }
}

/**
 * How the attributed clock runs in this process, once one was built: the switch hook and the CPU source of
 * the preemption guard. `undefined` before any `cpu: 'attributed'` wrapper exists.
 *
 * @example
 * attributedMechanism() // { hook: 'v8-promise-hooks', cpu: 'thread' } on Node 24
 */
export function attributedMechanism(): { hook: SwitchHookKind, cpu: ThreadCpuKind } | undefined {
  return mechanism
}

/** `c`'s thread time so far, including the stretch it is holding now (capped the same way switchTo caps it). */
function onThreadNow(c: Collector): number {
  if (current !== c) return c.onThread
  let held = performance.now() - at.since - (loop.idleTime - at.idleSince)
  if (held > LONG_HOLD_MS) {
    held = Math.min(held, (readCpu() - at.sampledCpu) / 1000 - at.busySinceSample)
    at.reads++
  }
  return c.onThread + Math.max(held, 0)
}

/**
 * Builds the attributed clock; the first call installs the process-wide switch hook.
 *
 * @example
 * const clock = attributedClock()
 * const previous = clock.enter(c)   // entry: c runs
 * clock.leave(c, previous)          // the listener returned
 * clock.close(c)                    // the response ended: c's CpuTime is fixed
 */
export function attributedClock(): CpuClock {
  install()
  return {
    mode: 'attributed',
    // The recorder read `c.start` just before (begin, then enter, in one synchronous stretch): one clock read
    // less per request.
    enter(c) {
      c.live = true
      return c === current ? c : switchAt(c, loop.idleTime, c.start)
    },
    leave(c, previous) {
      if (c.live && (c.blocks > 0 || c.res?.writableEnded !== true)) {
        watch(c)
      } else {
        c.live = false // its response ended: its last callbacks (the write completion, 'finish') are OUTSIDE's
        if (watching === 0) switchHook!.off()
      }
      switchBack(previous as Slot)
    },
    // CpuTime ends with the response: a handler that ends it and then burns 20 ms in a setImmediate was billed
    // 17.5 ms with RequestTime 0.9 ms. Later callbacks carrying its store run as OUTSIDE (onCallback), unless
    // one of its `metrics.timed` blocks still runs; either way `c.cpu`, what is reported, no longer moves.
    close(c) {
      // `c.end` was read by the recorder right before: one clock read less. A block still running keeps `c` on.
      if (current === c) switchAt(c.blocks === 0 ? OUTSIDE : c, loop.idleTime, c.end)
      c.cpu = c.onThread
      if (c.blocks === 0) retire(c)
    },
    // Pauses reported later (a loop turn after them) are still taken out, until the record is built.
    cpuTime: (c) => Math.max(0, c.cpu - c.refunded),
    // A block started after the listener ended the response (in a callback before 'finish') makes the request
    // live again: the block's callbacks are its own, as the block's `.cpu` promises.
    read(c) {
      if (!c.live) {
        c.live = true
        watch(c)
        switchTo(c)
      }
      return onThreadNow(c)
    },
    // The hold in progress is capped by thread CPU only past 1 ms, so two reads can disagree by a little: a
    // block's CPU never comes out below 0 (seen once in ≈ 100 runs of the timed-block test).
    since: (c, from) => Math.max(0, onThreadNow(c) - from),
    endBlock(c) {
      if (c.closed && c.blocks === 0 && c.live) {
        if (current === c) switchTo(OUTSIDE)
        retire(c)
      }
    },
  }
}
