import type { IncomingMessage } from 'node:http'
import type { Http2ServerRequest } from 'node:http2'
import { countDrop } from '../util/drops.js'
import { describe, warn } from '../util/warn.js'
import type { CpuClock } from './cpu-clock.js'
import { inRange, MAX_METRIC_VALUE, NAME_OK, NAME_UNPRINTABLE, nameVerdict, setOwn, STANDARD_METRICS } from '../wire/metric-rules.js'

/** A request object of `node:http`, `node:https` or the `node:http2` compatibility API. */
export type AnyRequest = IncomingMessage | Http2ServerRequest

/** Distinct app metric names one collector holds; past it names are dropped (counted), so no loop can grow it. */
export const MAX_NAMES_PER_COLLECTOR = 256
/** Distinct dimensions one collector holds. */
export const MAX_DIMENSIONS = 32
const MAX_NAME_LENGTH = 128
const MAX_DIMENSION_VALUE_LENGTH = 256

/**
 * Everything one request records while it runs. Allocated at entry with every field it will ever have, so
 * V8 keeps one hidden class for all of them; the record a sink sees is built from it at flush time.
 */
export class Collector {
  /** `performance.now()` at entry. */
  start: number
  /** `performance.now()` when the response finished or the connection closed; 0 while open. */
  end = 0
  /** Milliseconds this request's own callbacks held the thread (attributed CPU mode). */
  onThread = 0
  /** Milliseconds of garbage-collection pauses inside those holds, given back (attributed CPU mode). */
  refunded = 0
  /** `metrics.timed` blocks of this request still running: its callbacks are still timed after the response ends. */
  blocks = 0
  /** Queued behind another response on a pipelining connection (the recorder keeps it in that connection's set). */
  queued = false
  /** The recorder's box holding this request's response as its connection's last one; emptied when it ends. */
  connectionSlot: { res: unknown } | null = null
  /** Window CPU mode: `process.cpuUsage()` user+system µs at entry. At the response's end, in both modes: `CpuTime` in ms. */
  cpu = 0
  status = 0
  aborted = false
  threw = false
  closed = false
  /** Attributed CPU mode: its callbacks are billed to it (cpu-attributed.ts). */
  live = false
  /** Attributed CPU mode: counted among the requests that keep the switch hooks on. */
  watched = false
  /** The raw URL at entry (frameworks rewrite `req.url` while routing). */
  url: string
  /** The raw method string; mapped to a known verb or `OTHER` at flush. */
  method: string
  /** The request, held only while open, to read the framework's route at the end. */
  req: AnyRequest | null
  /** The response, held only while open: whether the listener ended it before returning. */
  res: { readonly writableEnded?: boolean } | null = null
  /** Name set by `metrics.route()`. */
  explicitRoute: string | undefined = undefined
  /** The framework's route template (`/users/:id`), when one matched. */
  template: string | undefined = undefined
  /**
   * The concrete path a template is mounted under (Express' `req.baseUrl`: `/api/users/42/posts`), named by the
   * heuristic only when the mount pattern cannot be recovered (a RegExp mount, a sub-app): the recorder
   * prefers the pattern of the `use()` chain the request came through (adapters/express-mount.ts).
   */
  templateBase = ''
  /** Dimensions: the shared defaults until the app sets one, then a private copy. */
  dimensions: Record<string, string>
  ownDimensions = false
  counters: Record<string, number> | null = null
  timers: Record<string, number> | null = null
  names = 0
  /** How this request's CPU is measured (also for `metrics.timed` blocks inside it). */
  readonly clock: CpuClock

  constructor(clock: CpuClock, req: AnyRequest | null, url: string, method: string, dimensions: Record<string, string>, start: number) {
    this.clock = clock
    this.req = req
    this.url = url
    this.method = method
    this.dimensions = dimensions
    this.start = start
  }

  /** Adds `value` to the app counter `name`. Returns false (and counts the drop) when it was refused. */
  count(name: string, value: number): boolean {
    if (!checkName(name)) return false
    if (!inRange(value)) return refuse('value', 'RM_BAD_VALUE', name, value)
    return this.add((this.counters ??= Object.create(null) as Record<string, number>), name, value)
  }

  /** Adds `ms` to the app timer `name` (repeats sum: the total time spent in `name` during the request). */
  timing(name: string, ms: number): boolean {
    if (!checkName(name)) return false
    if (!inRange(ms) || ms < 0) return refuse('value', 'RM_BAD_VALUE', name, ms)
    return this.add((this.timers ??= Object.create(null) as Record<string, number>), name, ms)
  }

  dimension(name: string, value: unknown): boolean {
    // Only an unprintable name is refused here: a dimension may be called like a standard metric.
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH || nameVerdict(name) === NAME_UNPRINTABLE) {
      return refuse('name', 'RM_BAD_DIMENSION', name, value)
    }
    const type = typeof value
    if (type !== 'string' && type !== 'number' && type !== 'boolean') {
      return refuse('value', 'RM_BAD_DIMENSION', name, value)
    }
    const text = String(value)
    if (text.length === 0 || text.length > MAX_DIMENSION_VALUE_LENGTH) return refuse('value', 'RM_BAD_DIMENSION', name, value)
    if (!this.ownDimensions) {
      this.dimensions = { ...this.dimensions }
      this.ownDimensions = true
    }
    // Own keys only: `in` would see `toString` on the prototype and let it past the limit, and plain
    // assignment would take `__proto__` as a prototype change (the spread above keeps an own one).
    if (!Object.hasOwn(this.dimensions, name) && Object.keys(this.dimensions).length >= MAX_DIMENSIONS) {
      return refuse('limit', 'RM_TOO_MANY_DIMENSIONS', name, value)
    }
    setOwn(this.dimensions, name, text)
    return true
  }

  route(name: string): boolean {
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) {
      return refuse('name', 'RM_BAD_ROUTE', name, name)
    }
    this.explicitRoute = name
    return true
  }

  /** True when there is nothing to send (a process collector between intervals). */
  isEmpty(): boolean {
    return this.counters === null && this.timers === null
  }

  private add(table: Record<string, number>, name: string, value: number): boolean {
    const previous = table[name]
    if (previous !== undefined) table[name] = previous + value
    else if (this.admit()) table[name] = value
    else return false
    return true
  }

  private admit(): boolean {
    if (this.names >= MAX_NAMES_PER_COLLECTOR) {
      countDrop('limit')
      warn('RM_TOO_MANY_NAMES', `a collector holds at most ${MAX_NAMES_PER_COLLECTOR} metric names; further names are dropped`)
      return false
    }
    this.names++
    return true
  }
}

function checkName(name: unknown): name is string {
  // nameVerdict is one cached Map lookup per call, the cost of the exact-name Set lookup it replaced.
  if (typeof name === 'string' && name.length > 0 && name.length <= MAX_NAME_LENGTH && nameVerdict(name) === NAME_OK) return true
  return refuse('name', 'RM_BAD_NAME', name, undefined)
}

function refuse(reason: 'name' | 'value' | 'limit', code: string, name: unknown, value: unknown): false {
  countDrop(reason)
  // The message is built only the first time: describe() runs user values through String().
  warn(code, () => `dropped a metric: ${describe(name)} = ${describe(value)} (${explain(reason)}); ` +
    'every drop is counted in metrics.stats().dropped')
  return false
}

function explain(reason: 'name' | 'value' | 'limit'): string {
  if (reason === 'name') {
    return `names are strings of 1 to ${MAX_NAME_LENGTH} characters with a visible one and no control characters, and metric names ` +
      `are not one of ${[...STANDARD_METRICS].join(', ')}, not even with dots around it`
  }
  if (reason === 'value') return `values are numbers within ±${MAX_METRIC_VALUE}, times are not negative, dimensions are short strings`
  return 'too many distinct names in one request'
}
