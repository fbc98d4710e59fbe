import { createHook } from 'node:async_hooks'
import { performance } from 'node:perf_hooks'
import { requestContext } from './context.js'
import { processCpuMicros, type CpuClock } from './cpu-clock.js'
import type { Collector } from './collector.js'

/*
 * `cpu: 'attributed'` — charge each request the time its own callbacks held the thread.
 *
 *   before(cb) ─► switch to cb's request (or OUTSIDE) ─► cb runs ─► after(cb) ─► switch to IDLE
 *
 * Node runs one JavaScript callback at a time, so the time between a callback's `before` and `after` belongs
 * to the request whose AsyncLocalStorage store that callback carries. The clock is `performance.now()`
 * (≈ 0.04 µs) rather than `process.cpuUsage()` (≈ 0.86 µs, a syscall) because there are about 8 switches per
 * request; DESIGN.md measured ≈ 12 µs/request for cpuUsage-per-switch against ≈ 2 µs for this.
 *
 * Wall time on the thread overstates CPU when the OS preempts the thread. Two corrections, both cheap:
 * - a long hold (> 2 ms, where preemption matters) is capped by the process CPU measured across it;
 * - once per flush window, the ratio of process CPU to charged thread time, when below 1, scales every
 *   request down (short holds on a machine so busy that the thread waited for a core).
 * The ratio is never applied above 1: CPU the process spends outside any callback (GC helper threads, the
 * JIT compiler, the runtime between callbacks) is not caused by a particular request, and spreading it in
 * proportion billed heavy requests ≈ 9% more than they burned (test/collect/cpu.test.ts, 2 loaded cores).
 *
 * IDLE is never charged: it is the time the loop waits in epoll. OUTSIDE is charged (HTTP parsing, timers of
 * the app that belong to no request) so that it is part of the ratio's denominator, not billed to requests.
 */

interface Slot {
  onThread: number
}

const OUTSIDE: Slot = { onThread: 0 }
const IDLE: Slot = { onThread: 0 }

let current: Slot = IDLE
let since = 0
/** Thread milliseconds charged to any slot but IDLE, since the process started. */
let charged = 0

// Preemption guard. On a busy machine the OS can take the CPU away in the middle of a long callback, and
// wall time would bill that to the request. So a hold longer than LONG_HOLD_MS is charged at most the
// process CPU that passed during it, read against a `process.cpuUsage()` sample taken at a switch at most
// CPU_SAMPLE_MS earlier. Sampling only when a millisecond has passed bounds the syscalls to ~1,000/s of
// busy time (≈ 0.09% of a core); short holds, the vast majority, never read it.
const LONG_HOLD_MS = 2
const CPU_SAMPLE_MS = 1
let sampledCpu = 0
let sampledAt = 0

function switchTo(next: Slot): Slot {
  const previous = current
  if (next === previous) return previous
  const now = performance.now()
  if (previous !== IDLE) {
    let held = now - since
    if (held > LONG_HOLD_MS) {
      const cpu = processCpuMicros()
      const cpuHeld = (cpu - sampledCpu) / 1000
      if (cpuHeld < held) held = cpuHeld
      sampledCpu = cpu
      sampledAt = now
    }
    previous.onThread += held
    charged += held
  }
  if (now - sampledAt > CPU_SAMPLE_MS) {
    sampledCpu = processCpuMicros()
    sampledAt = now
  }
  current = next
  since = now
  return previous
}

let hookEnabled = false
function enableHook(): void {
  if (hookEnabled) return
  hookEnabled = true
  createHook({
    before() {
      switchTo(requestContext.getStore() ?? OUTSIDE)
    },
    after() {
      switchTo(IDLE)
    },
  }).enable()
}

// The CPU/thread ratio over the last window (capped at 1, see above). Windows shorter than this reuse the last ratio: over a few ms
// `process.cpuUsage()` granularity (clock ticks) makes the ratio meaningless.
const MIN_WINDOW_MS = 50
let windowStartCpu = 0
let windowStartCharged = 0
let windowStartTime = 0
let factor = 1

/** The current CPU-per-thread-millisecond ratio, recomputed when the last window is old enough. */
export function attributionFactor(): number {
  const now = performance.now()
  if (now - windowStartTime < MIN_WINDOW_MS) return factor
  const cpuNow = processCpuMicros()
  const cpuMs = (cpuNow - windowStartCpu) / 1000
  const threadMs = charged - windowStartCharged
  // Below a millisecond of observed thread time the ratio is noise (and could explode on GC-thread CPU).
  if (threadMs >= 1) factor = Math.min(Math.max(cpuMs / threadMs, 0), 1)
  windowStartCpu = cpuNow
  windowStartCharged = charged
  windowStartTime = now
  return factor
}

function onThreadNow(c: Collector): number {
  return current === c ? c.onThread + (performance.now() - since) : c.onThread
}

/** Builds the attributed clock; the first call installs the process-wide async hook. */
export function attributedClock(): CpuClock {
  enableHook()
  if (windowStartTime === 0) {
    windowStartTime = performance.now()
    windowStartCpu = processCpuMicros()
  }
  return {
    mode: 'attributed',
    enter: (c) => switchTo(c),
    leave: (previous) => {
      switchTo(previous as Slot)
    },
    close(c) {
      if (current === c) switchTo(OUTSIDE)
    },
    cpuTime: (c) => c.onThread * attributionFactor(),
    read: (c) => onThreadNow(c),
    since: (c, from) => (onThreadNow(c) - from) * factor,
  }
}
