import type { Collector } from '../collect/collector.js'
import { requestContext } from '../collect/context.js'
import type { CpuClock } from '../collect/cpu-clock.js'
import { storesOnContextFrames } from '../collect/cpu-switch-hook.js'

/** Calls `fn` with `this` and two arguments; passed to `AsyncLocalStorage.run` so no closure is made per call. */
function invoke<A, B, R>(fn: (this: unknown, a: A, b: B) => R, self: unknown, a: A, b: B): R {
  return fn.call(self, a, b)
}

type Call = <A, B, R>(c: Collector, fn: (this: unknown, a: A, b: B) => R, self: unknown, a: A, b: B) => R

/*
 * How `fn` is called with `c` as the store, chosen once per process (swap, don't branch):
 *
 * - AsyncLocalStorage on AsyncContextFrame (Node 24): `enterWith(c)`, and the frame is not put back after the
 *   call. There `run()` is `enterWith(c)` then `enterWith(prior)`: two frames (Maps) built per request, the
 *   second a copy of the first (`node bench/instructions.mjs --top 40`: Map's constructor twice a request from
 *   the wrapper, ≈ 2,000 instructions with its property lookups). Entering once takes 1,537 instructions a
 *   request off `cpu: false` on the tiny route, 3.5 % of the 43,450 a bare server spends (paired windows). Node puts
 *   the frame back itself when the callback that emitted the request returns (node:http's parser and
 *   node:http2's session call each request's JavaScript in a callback scope of its own, pipelined requests
 *   too), so what still sees `c` is what runs after the wrapper in that callback: a `'request'` listener added
 *   after it, Node's own remaining work on that request, a framework's dispatch around a middleware: all work
 *   for the same request. A throw puts the prior store back before it goes on.
 * - async_hooks-based storage (Node 20, 22): `run()`, which sets and restores a property of the current
 *   resource, and costs next to nothing; `enterWith` there would leave `c` on the socket's resource for every
 *   later callback of the connection.
 */
const callWithStore: Call = storesOnContextFrames()
  ? function enterAndCall(c, fn, self, a, b) {
    const prior = requestContext.getStore()
    requestContext.enterWith(c)
    try {
      return fn.call(self, a, b)
    } catch (error) {
      requestContext.enterWith(prior as Collector)
      throw error
    }
  }
  : (c, fn, self, a, b) => requestContext.run(c, invoke, fn, self, a, b)

/**
 * Runs `fn.call(self, a, b)` as request `c`'s code: inside its AsyncLocalStorage context (so `metrics` and
 * every callback it schedules find `c`), with the CPU clock switched to `c` for the synchronous part. A
 * synchronous throw marks `c` as failed and reaches the caller unchanged. The one entry point of every
 * adapter (withMetrics, connectMetrics, koaMetrics, fastifyMetrics).
 *
 * @example
 * return runAsRequest(clock, c, listener, this, req, res)
 */
export function runAsRequest<A, B, R>(clock: CpuClock, c: Collector, fn: (this: unknown, a: A, b: B) => R, self: unknown, a: A, b: B): R {
  const previous = clock.enter(c)
  try {
    return callWithStore(c, fn, self, a, b)
  } catch (error) {
    c.threw = true
    throw error
  } finally {
    clock.leave(c, previous)
  }
}
