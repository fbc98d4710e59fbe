import { closeSync, openSync, readSync } from 'node:fs'
import { processCpuMicros } from './cpu-clock.js'

/*
 * The CPU the JavaScript thread used, for the attributed clock's preemption guard. Chosen once (swap, don't
 * branch), the most truthful source the platform has at a price the guard can pay (it reads once per hold
 * longer than 1 ms and once per 1–8 ms of shorter ones: at most ~1,000 times per busy second). Costs from
 * `node bench/clock-cost.mjs` (Node 20.20 and 24.22, 2-core x64 Linux VM):
 *
 *   'thread'     process.threadCpuUsage() (Node ≥ 23.9 and 22.x): this thread only, ≈ 0.30 µs a call
 *   'schedstat'  Linux without it (Node 20): the thread's run time in ns from /proc/thread-self/schedstat,
 *                one pread on a descriptor kept open, ≈ 0.94 µs a call
 *   'process'    elsewhere: process.cpuUsage(), ≈ 0.55 µs, which also counts V8's GC and JIT helper threads
 *
 * On Linux both thread sources read the thread's runtime as the scheduler last updated it, at its last tick
 * (CONFIG_HZ=250 here: up to 4 ms stale): over 45 ms burns `threadCpuUsage()` strayed −3.5…0 ms from the
 * wall time of an uncontended thread. `process.cpuUsage()` (getrusage(RUSAGE_SELF)) brings the calling
 * thread's runtime up to date first (the kernel's thread_group_cputime), so each read here is that call then
 * the thread's: over 30 ms burns the two then agree to 0.03 ms. ≈ 0.84 µs ('thread') or 1.8 µs ('schedstat').
 *
 * Why the thread and not the process: a request's callbacks run on this thread; the helper threads' CPU
 * (concurrent marking, the optimising compiler) is not any one request's, and with 60 concurrent requests
 * in test/collect/cpu.test.ts it added up to a quarter of a 20 ms burn to the process figure.
 */

/**
 * Which clock `threadCpuClock()` reads.
 *
 * @example
 * threadCpuClock().kind // 'thread' on Node 24, 'schedstat' on Node 20 (Linux)
 */
export type ThreadCpuKind = 'thread' | 'schedstat' | 'process'

type WithThreadCpu = NodeJS.Process & { threadCpuUsage?: () => NodeJS.CpuUsage }

function fromThreadCpuUsage(): number {
  process.cpuUsage() // brings this thread's runtime up to date (see above)
  const usage = (process as WithThreadCpu).threadCpuUsage!()
  return usage.user + usage.system
}

/** A reader of the schedstat file opened by this thread, or undefined when there is none to read. */
function schedstatReader(): (() => number) | undefined {
  let fd: number
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r')
  } catch {
    return undefined
  }
  const buffer = Buffer.alloc(64)
  const read = (): number => {
    // First field: nanoseconds this thread ran on a CPU. Parsed by hand: no string per read.
    process.cpuUsage() // brings this thread's runtime up to date (see above)
    const n = readSync(fd, buffer, 0, 64, 0)
    let ns = 0
    for (let i = 0; i < n; i++) {
      const digit = buffer[i]! - 48
      if (digit < 0 || digit > 9) break
      ns = ns * 10 + digit
    }
    return ns / 1000
  }
  try {
    if (read() > 0) return read
  } catch {
    // a kernel without the file's content: fall through
  }
  closeSync(fd)
  return undefined
}

/**
 * Picks the source once. `prefer` forces one for tests ('process' is always possible).
 *
 * @example
 * const { kind, read } = threadCpuClock()
 * const before = read()   // µs
 */
export function threadCpuClock(prefer?: ThreadCpuKind): { kind: ThreadCpuKind, read: () => number } {
  if ((prefer === undefined || prefer === 'thread') && typeof (process as WithThreadCpu).threadCpuUsage === 'function') {
    return { kind: 'thread', read: fromThreadCpuUsage }
  }
  if (prefer !== 'process') {
    const read = schedstatReader()
    if (read !== undefined) return { kind: 'schedstat', read }
  }
  return { kind: 'process', read: processCpuMicros }
}
