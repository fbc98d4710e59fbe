import type { Collector } from '../collect/collector.js'
import { requestContext } from '../collect/context.js'
import type { CpuClock } from '../collect/cpu-clock.js'

/** Calls `fn` with `this` and two arguments; passed to `AsyncLocalStorage.run` so no closure is made per call. */
function invoke<A, B, R>(fn: (this: unknown, a: A, b: B) => R, self: unknown, a: A, b: B): R {
  return fn.call(self, a, b)
}

/**
 * Runs `fn.call(self, a, b)` as request `c`'s code: inside its AsyncLocalStorage context (so `metrics` and
 * every callback it schedules find `c`), with the CPU clock switched to `c` for the synchronous part. A
 * synchronous throw marks `c` as failed and reaches the caller unchanged. The one entry point of every
 * adapter (withMetrics, connectMetrics, koaMetrics).
 *
 * @example
 * return runAsRequest(clock, c, listener, this, req, res)
 */
export function runAsRequest<A, B, R>(clock: CpuClock, c: Collector, fn: (this: unknown, a: A, b: B) => R, self: unknown, a: A, b: B): R {
  const previous = clock.enter(c)
  try {
    return requestContext.run(c, invoke, fn, self, a, b)
  } catch (error) {
    c.threw = true
    throw error
  } finally {
    clock.leave(previous)
  }
}
