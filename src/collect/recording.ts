import { performance } from 'node:perf_hooks'
import { countDrop } from '../util/drops.js'
import { describe, warn } from '../util/warn.js'
import type { Collector } from './collector.js'
import { requestContext } from './context.js'
import { isThenable } from '../util/thenable.js'
import { processCollector } from './process-collector.js'

/** What the app records into the request whose code is running. Every method is safe to call from anywhere. */
export interface Recording {
  /** Adds `value` (default 1) to counter `name` of the current request; repeated counts of a name add up. */
  count(name: string, value?: number): void
  /** Adds `ms` to timer `name` of the current request; repeated timings of a name add up. */
  timing(name: string, ms: number): void
  /**
   * Runs `fn` and records timers `name` (wall ms) and `name.cpu` (CPU ms, unless `cpu: false`), also when it
   * throws. Returns what `fn` returns; for a promise, a promise that settles as `fn`'s does.
   */
  timed<T>(name: string, fn: () => T): T
  /** Sets a dimension (tag) of the current request. */
  dimension(name: string, value: string | number | boolean): void
  /** Names the current request's route explicitly (wins over templates and the heuristic). */
  route(name: string): void
}

/** The collector to record into: the running request's while it is open, else the process-level one. */
function target(): Collector {
  const c = requestContext.getStore()
  return c !== undefined && !c.closed ? c : processCollector()
}

function openRequest(method: string): Collector | undefined {
  const c = requestContext.getStore()
  if (c !== undefined && !c.closed) return c
  warn(
    `RM_NO_REQUEST_${method.toUpperCase()}`,
    `metrics.${method}() was called outside an open request; it only applies to a request and was ignored`,
  )
  return undefined
}

function settle(c: Collector, name: string, startedAt: number, cpuAt: number | undefined): void {
  c.blocks--
  // A closed request, or the process collector (no request: `req` is null while open), may have been
  // shipped while `fn` ran: record into the current process collector instead of a retired one.
  const into = c.closed || c.req === null ? processCollector() : c
  // The CPU span is read inside the wall span (started after it, ended before it): read the other way round,
  // the first block of a request showed 0.025 ms CPU in 0.013 ms of wall time. Attributed CPU is one thread's,
  // which cannot run longer than the wall time it had, so it is also capped by it (its two reads may cap a hold
  // in progress differently). Window CPU is the process's, other threads included, and is left as measured.
  const cpu = cpuAt === undefined ? undefined : c.clock.since(c, cpuAt)
  const wall = performance.now() - startedAt
  if (into.timing(name, wall) && cpu !== undefined) {
    into.timing(`${name}.cpu`, c.clock.mode === 'attributed' && cpu > wall ? wall : cpu)
  }
  c.clock.endBlock(c)
}

/**
 * Records into the request whose code is running (found through AsyncLocalStorage, so it works from any
 * depth of the app's code), or, outside a request, into a process-level collector shipped every flush.
 * Never throws: a bad name or value is dropped, counted in `stats()` and warned about (at most once a minute per kind).
 * The app reaches it as part of `metrics`, which adds the pipeline's `flush`, `close` and `stats`.
 *
 * @example
 * import { metrics } from 'routemeter'
 *
 * async function loadUser(id) {
 *   metrics.count('user.load')
 *   return metrics.timed('db.user', () => db.users.find(id))
 * }
 */
export const recording: Recording = {
  count(name, value = 1) {
    target().count(name, value)
  },
  timing(name, ms) {
    target().timing(name, ms)
  },
  timed<T>(name: string, fn: () => T): T {
    if (typeof fn !== 'function') {
      countDrop('value')
      warn('RM_TIMED_NOT_FUNCTION', () => `metrics.timed(${describe(name)}, fn) needs a function; nothing was run`)
      return undefined as T
    }
    const c = target()
    c.blocks++
    const startedAt = performance.now()
    const cpuAt = c.clock.read(c)
    let result: T
    try {
      result = fn()
    } catch (error) {
      settle(c, name, startedAt, cpuAt)
      throw error
    }
    if (!isThenable(result)) {
      settle(c, name, startedAt, cpuAt)
      return result
    }
    // Once: a thenable that is not a promise may call both callbacks, one twice, or one and then throw.
    let running = true
    const end = (): void => {
      if (!running) return
      running = false
      settle(c, name, startedAt, cpuAt)
    }
    try {
      return (result as unknown as PromiseLike<unknown>).then(
        (value) => {
          end()
          return value
        },
        (error: unknown) => {
          end()
          throw error
        },
      ) as T
    } catch {
      // A `then` that throws (a hostile Proxy): the block ends now, and the app gets its value back as it came.
      end()
      return result
    }
  },
  dimension(name, value) {
    openRequest('dimension')?.dimension(name, value)
  },
  route(name) {
    openRequest('route')?.route(name)
  },
}
