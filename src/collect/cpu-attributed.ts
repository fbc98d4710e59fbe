import { createHook } from 'node:async_hooks'
import { performance } from 'node:perf_hooks'
import { requestContext } from './context.js'
import { processCpuMicros, type CpuClock } from './cpu-clock.js'
import type { Collector } from './collector.js'

/*
 * `cpu: 'attributed'` — charge each request the time its own callbacks held the thread.
 *
 *   before(cb) ─► cb's request (or OUTSIDE) differs from the running one? ─► charge the running one
 *                 (now − since − loop idle time since), switch ─► cb runs
 *
 * Node runs one JavaScript callback at a time, so the thread time between two switches belongs to the request
 * whose AsyncLocalStorage store the callbacks carried. Only a `before` hook is installed and the clock is read
 * only when the running request changes: consecutive callbacks of one request (its promise reactions, mostly)
 * cost a hook call and a store lookup. Time the loop waited in epoll is taken out with libuv's idle-time
 * counter (`performance.nodeTiming.idleTime`, ≈ 60 ns), read at the same switches.
 *
 * Why no `after` hook (it would end each hold exactly): measured on the bench's tiny route, an `after` hook
 * that switches to "idle" made routemeter add 13.0 µs/request instead of 3.4 µs (an empty `after` alone:
 * 8.3 µs), because it fires for every callback and promise reaction. The price of leaving it out: work the
 * thread does between callbacks outside any async resource (V8's GC finalisation tasks, mostly) is billed to
 * the request that ran last. A full garbage collection is billed to one request either way.
 *
 * Wall time on the thread overstates CPU when the OS preempts the thread, so a long hold (> 1 ms, where
 * preemption matters) is capped by the process CPU measured across it. DESIGN.md also suggested scaling
 * every request by the process-CPU / thread-time ratio once per flush; measured, that did harm both ways:
 * above 1 it billed requests for CPU no request caused (GC helper threads, the JIT: +9% on 20 ms burners),
 * and below 1 (a loaded machine) it scaled down burners whose holds were already capped to their CPU, a
 * double correction that reported 20 ms burns as 9 ms (test/collect/cpu.test.ts, 2 loaded cores).
 *
 * OUTSIDE collects callbacks of no request (HTTP parsing before the listener, the app's own timers).
 */

interface Slot {
  onThread: number
}

const OUTSIDE: Slot = { onThread: 0 }
const loop = performance.nodeTiming

let current: Slot = OUTSIDE
let since = performance.now()
let idleSince = loop.idleTime

// Preemption guard. On a busy machine the OS can take the CPU away in the middle of a long callback, and
// wall time would bill that to the request. So a hold longer than LONG_HOLD_MS is charged at most the
// process CPU that passed during it, read against a `process.cpuUsage()` sample taken at a switch at most
// CPU_SAMPLE_MS earlier. Sampling only when half a millisecond has passed bounds the syscalls to ~2,000/s of
// busy time (≈ 0.17% of a core); short holds, the vast majority, never read it.
const LONG_HOLD_MS = 1
const CPU_SAMPLE_MS = 0.5
let sampledCpu = 0
let sampledAt = 0

/** Charges the running slot up to now (idle time taken out) and makes `next` the running one. */
function switchTo(next: Slot): Slot {
  const previous = current
  if (next === previous) return previous
  const now = performance.now()
  const idle = loop.idleTime
  let held = now - since - (idle - idleSince)
  if (held > LONG_HOLD_MS) {
    const cpu = processCpuMicros()
    const cpuHeld = (cpu - sampledCpu) / 1000
    if (cpuHeld < held) held = cpuHeld
    sampledCpu = cpu
    sampledAt = now
  } else if (now - sampledAt > CPU_SAMPLE_MS) {
    sampledCpu = processCpuMicros()
    sampledAt = now
  }
  if (held > 0) previous.onThread += held
  current = next
  since = now
  idleSince = idle
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
  }).enable()
}

/** `c`'s thread time so far, including the stretch it is holding now (capped the same way switchTo caps it). */
function onThreadNow(c: Collector): number {
  if (current !== c) return c.onThread
  let held = performance.now() - since - (loop.idleTime - idleSince)
  if (held > LONG_HOLD_MS) held = Math.min(held, (processCpuMicros() - sampledCpu) / 1000)
  return c.onThread + Math.max(held, 0)
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
