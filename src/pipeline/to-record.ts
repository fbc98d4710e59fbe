import { METHODS } from 'node:http'
import type { Collector } from '../collect/collector.js'
import { setOwn } from '../wire/metric-rules.js'
import type { MetricRecord } from '../wire/record.js'
import type { RouteNamer } from '../collect/route-namer.js'
import { unixMs } from '../util/wall-clock.js'

const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS)

/** Upper-case verb if Node knows it, else `OTHER`: a client cannot mint method values. */
export function methodOf(raw: string): string {
  if (KNOWN_METHODS.has(raw)) return raw
  const upper = raw.toUpperCase()
  return KNOWN_METHODS.has(upper) ? upper : 'OTHER'
}

/**
 * Builds the function that turns a closed collector into the record sinks receive. Runs at flush, off the
 * request path: route naming (a cached lookup), the CPU conversion and the record's allocation all happen
 * here rather than when the response ends.
 *
 * @example
 * const toRecord = recordBuilder({ prefix: 'shop', namer })
 * sink.send(closed.map(toRecord))
 */
export function recordBuilder(options: { prefix: string, namer: RouteNamer }): (c: Collector) => MetricRecord {
  const { prefix, namer } = options
  return function toRecord(c) {
    const status = c.status
    const timers: Record<string, number> = { RequestTime: c.end - c.start }
    const cpu = c.clock.cpuTime(c)
    if (cpu !== undefined) timers.CpuTime = cpu
    if (c.timers !== null) copyOwn(timers, c.timers)
    const counters: Record<string, number> = {
      Failure: c.threw || status >= 500 ? 1 : 0,
      ClientError: status >= 400 && status < 500 ? 1 : 0,
      Aborted: c.aborted ? 1 : 0,
    }
    if (c.counters !== null) copyOwn(counters, c.counters)
    return {
      kind: 'request',
      prefix,
      route: namer.name(c),
      method: methodOf(c.method),
      status,
      aborted: c.aborted,
      dimensions: c.dimensions,
      counters,
      timers,
      timestamp: unixMs(c.start),
    }
  }
}

/** `Object.assign` minus its one trap: an app name `__proto__` is copied as a key, not set as the prototype. */
function copyOwn(into: Record<string, number>, from: Record<string, number>): void {
  for (const name in from) setOwn(into, name, from[name]!)
}
