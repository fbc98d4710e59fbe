// Counts the clock reads a contender makes, for paired.mjs --count: how many times per request the server's
// code calls performance.now(), reads libuv's idle time (performance.nodeTiming.idleTime), or asks the kernel
// for CPU time (process.cpuUsage(), process.threadCpuUsage(), and fs.readSync, which on Node 20 reads the
// thread's /proc schedstat: a system call each). The attributed clock reads the first two at each switch
// between requests and the others in its preemption guard, so these counts are its switches and guard reads,
// observed from outside the library and reproducible from the repo.
//
// Installed before the contender is imported; each counted call pays a closure and an increment, so a run
// with counting measures counts, not CPU time.

/** The reads counted, in the order the benches print them. */
export const CLOCK_CALLS = ['now', 'idleTime', 'cpuUsage', 'threadCpuUsage', 'readSync']

/**
 * Wraps the clocks (and `fs.readSync` of the given `node:fs` module). Returns `read()`, the counts so far, and
 * `quiet(fn)`, which runs fn without counting (the bench's own reads).
 */
export function countClockCalls(fs) {
  const counts = Object.fromEntries(CLOCK_CALLS.map((key) => [key, 0]))
  let counting = true
  const wrap = (owner, key) => {
    const original = owner[key]
    if (typeof original !== 'function') return
    owner[key] = function counted(...args) {
      if (counting) counts[key]++
      return original.apply(this, args)
    }
  }
  wrap(performance, 'now')
  wrap(process, 'cpuUsage')
  wrap(process, 'threadCpuUsage')
  wrap(fs, 'readSync')
  const timing = performance.nodeTiming
  const idle = Object.getOwnPropertyDescriptor(timing, 'idleTime') ??
    Object.getOwnPropertyDescriptor(Object.getPrototypeOf(timing), 'idleTime')
  Object.defineProperty(timing, 'idleTime', {
    configurable: true,
    get() {
      if (counting) counts.idleTime++
      return idle.get.call(this)
    },
  })
  return {
    read: () => ({ ...counts }),
    quiet(fn) {
      counting = false
      try { return fn() } finally { counting = true }
    },
  }
}
