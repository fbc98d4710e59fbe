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
 * Why an `after` hook, which doubles the hook calls per promise: without it, everything the thread does
 * between two hooked callbacks (V8's GC finalisation and other platform tasks, which run outside any async
 * resource) is billed to whichever request ran last. Tried, with libuv's idle counter subtracting the epoll
 * waits: sleepers went from ≈ 0.3 to 2+ ms and a 10 ms `timed` block reported 15–31 ms under load.
 *
 * Wall time on the thread overstates CPU when the OS preempts the thread, so a long hold (> 1 ms, where
 * preemption matters) is capped by the process CPU measured across it. DESIGN.md also suggested scaling
 * every request by the process-CPU / thread-time ratio once per flush; measured, that did harm both ways:
 * above 1 it billed requests for CPU no request caused (GC helper threads, the JIT: +9% on 20 ms burners),
 * and below 1 (a loaded machine) it scaled down burners whose holds were already capped to their CPU, a
 * double correction that reported 20 ms burns as 9 ms (test/collect/cpu.test.ts, 2 loaded cores).
 *
 * IDLE is never charged. OUTSIDE collects callbacks of no request (HTTP parsing before the listener, the
 * app's own timers).
 */

interface Slot {
  onThread: number
}

const OUTSIDE: Slot = { onThread: 0 }
const IDLE: Slot = { onThread: 0 }

let current: Slot = IDLE
let since = 0

// Preemption guard. On a busy machine the OS can take the CPU away in the middle of a long callback, and
// wall time would bill that to the request. So a hold longer than LONG_HOLD_MS is charged at most the
// process CPU that passed during it, read against a `process.cpuUsage()` sample taken at a switch at most
// CPU_SAMPLE_MS earlier. Sampling only when half a millisecond has passed bounds the syscalls to ~2,000/s of
// busy time (≈ 0.17% of a core); short holds, the vast majority, never read it.
const LONG_HOLD_MS = 1
const CPU_SAMPLE_MS = 0.5
let sampledCpu = 0
let sampledAt = 0

/** Charges the running slot up to now and makes `next` the running one. */
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

function onThreadNow(c: Collector): number {
  return current === c ? c.onThread + (performance.now() - since) : c.onThread
}

/** Builds the attributed clock; the first call installs the process-wide async hook. */
export function attributedClock(): CpuClock {
  enableHook()
  return {
    mode: 'attributed',
    enter: (c) => switchTo(c),
    leave: (previous) => {
      switchTo(previous as Slot)
    },
    close(c) {
      if (current === c) switchTo(OUTSIDE)
    },
    cpuTime: (c) => c.onThread,
    read: (c) => onThreadNow(c),
    since: (c, from) => onThreadNow(c) - from,
  }
}
