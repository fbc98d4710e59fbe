// Counts the clock reads a contender makes, for paired.mjs --count: how many times per request the server's
// code calls performance.now(), reads libuv's idle time (performance.nodeTiming.idleTime), or asks the kernel
// for CPU time (process.cpuUsage(), process.threadCpuUsage(), and fs.readSync, which on Node 20 reads the
// thread's /proc schedstat: a system call each). The attributed clock reads the first two at each switch
// between requests and the others in its preemption guard, so these counts are its switches and guard reads,
// observed from outside the library and reproducible from the repo.
//
// Each read is also counted by who made it: the two functions below the clock on the stack, with their files
// (`idleTime ← switchTo (cpu-attributed.js) ← onCallback (cpu-attributed.js)`), which tells the switches of the
// hooks from those at a request's entry, return and end without a patched build.
//
// Installed before the contender is imported; each counted call pays a closure, an increment and a stack
// capture, so a run with counting measures counts, not CPU time.

/** The reads counted, in the order the benches print them. */
export const CLOCK_CALLS = ['now', 'idleTime', 'cpuUsage', 'threadCpuUsage', 'readSync']

/**
 * Wraps the clocks (and `fs.readSync` of the given `node:fs` module). Returns `read()`, the counts so far, and
 * `quiet(fn)`, which runs fn without counting (the bench's own reads).
 */
export function countClockCalls(fs) {
  const counts = Object.fromEntries(CLOCK_CALLS.map((key) => [key, 0]))
  /** `read ← caller ← its caller` → reads. */
  const byCaller = {}
  let counting = true
  const count = (key, counter) => {
    counts[key]++
    const where = `${key} ← ${callers(counter)}`
    byCaller[where] = (byCaller[where] ?? 0) + 1
  }
  const wrap = (owner, key) => {
    const original = owner[key]
    if (typeof original !== 'function') return
    owner[key] = function counted(...args) {
      if (counting) count(key, counted)
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
    get: function countedIdleTime() {
      if (counting) count('idleTime', countedIdleTime)
      return idle.get.call(this)
    },
  })
  return {
    read: () => ({ ...counts }),
    /** Reads so far by `read ← caller ← its caller`. */
    readByCaller: () => ({ ...byCaller }),
    quiet(fn) {
      counting = false
      try { return fn() } finally { counting = true }
    },
  }
}

/** The two frames below `counter` on the stack, as `name (file) ← name (file)`. */
function callers(counter) {
  const { stackTraceLimit, prepareStackTrace } = Error
  Error.stackTraceLimit = 2
  Error.prepareStackTrace = (_, frames) => frames
  const holder = {}
  try {
    Error.captureStackTrace(holder, counter)
    return holder.stack.map((frame) => {
      const file = frame.getFileName()
      return `${frame.getFunctionName() ?? '(anonymous)'} (${file ? file.slice(file.lastIndexOf('/') + 1) : 'native'})`
    }).join(' ← ')
  } finally {
    Error.stackTraceLimit = stackTraceLimit
    Error.prepareStackTrace = prepareStackTrace
  }
}
