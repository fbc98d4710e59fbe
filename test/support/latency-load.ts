/**
 * The latency load the percentile suites share (InfluxDB and Prometheus): stream entries of requests over three
 * routes whose RequestTime is lognormal, seeded, so the exact quantiles of the very same requests are known.
 */
import type { MetricRecord } from '../../src/wire/record.js'
import type { AgentEntry } from '../../src/agent/publisher.js'
import { decoded, rawEntry, type RawEntry } from './entries.js'
import { lognormal } from './random.js'

/** Three routes with different lognormal latencies (median e^mu ms): a fast one, a slow one, a heavy-tailed one. */
export const ROUTES: Record<string, { mu: number, sigma: number }> = {
  health: { mu: -1, sigma: 0.4 }, checkout: { mu: 3, sigma: 0.8 }, search: { mu: 1.5, sigma: 1.5 },
}

/**
 * The element of rank ⌊q·(n−1)⌋, the definition the sketch uses.
 *
 * @example
 * exactQuantile([3, 1, 2], 0.5) // 2
 */
export const exactQuantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(q * (sorted.length - 1))]
}

/**
 * The status of request `i` of an entry: every 37th 503, else every 11th 404, else every 13th 429, else 200.
 *
 * @example
 * statusOf(0) // 503
 */
export const statusOf = (i: number): number => i % 37 === 0 ? 503 : i % 11 === 0 ? 404 : i % 13 === 0 ? 429 : 200

/**
 * `entries` stream entries of `perEntry` requests each, over three routes, two methods and 2xx/4xx/5xx, every
 * fifth in the v=1 schema; `times` holds each route's RequestTime values per entry.
 */
export interface LatencyLoad {
  entries: AgentEntry[]
  /** The same entries as stream fields, for XADD. */
  raw: RawEntry[]
  times: Map<string, number[][]>
  /** Per entry, each route's status codes. */
  statuses: Array<Map<string, number[]>>
}

export interface LatencyLoadOptions {
  /** The first entry's time (ms since the epoch); entries are one second apart. Default 2025-11-22T08:00:00Z. */
  t0?: number
  /** The dimensions of entry `e`'s records. Default `{ service: 'shop' }`. */
  dimensions?: (e: number) => Record<string, string>
}

/**
 * Builds the load. Entry `e` has stream id `<t0 + e·1000>-0`; request `i` of it goes to route `(7i + e) mod 3`,
 * is a POST when `i` is a multiple of 3, has the status `statusOf(i)` and CpuTime a quarter of its RequestTime.
 *
 * @example
 * const { raw, times } = latencyLoad(60, 500)
 * for (const e of raw) await client.xAdd('q', e.id, { v: e.v, n: String(e.n), p: e.p })
 */
export function latencyLoad(entries: number, perEntry: number, options: LatencyLoadOptions = {}): LatencyLoad {
  const t0 = options.t0 ?? 1763798400000
  const dimensions = options.dimensions ?? (() => ({ service: 'shop' }))
  const out: AgentEntry[] = []
  const raw: RawEntry[] = []
  const routes = Object.keys(ROUTES)
  const times = new Map<string, number[][]>(routes.map((r) => [r, []]))
  const statuses: Array<Map<string, number[]>> = []
  for (let e = 0; e < entries; e++) {
    const batch: MetricRecord[] = []
    const perRoute = new Map<string, number[]>(routes.map((r) => [r, []]))
    const codes = new Map<string, number[]>(routes.map((r) => [r, []]))
    statuses.push(codes)
    for (let i = 0; i < perEntry; i++) {
      const route = routes[(i * 7 + e) % 3]
      const { mu, sigma } = ROUTES[route]
      const ms = lognormal(1, mu, sigma, e * perEntry + i + 1)[0]
      const status = statusOf(i)
      perRoute.get(route)!.push(ms)
      codes.get(route)!.push(status)
      batch.push({
        kind: 'request', prefix: '', route, method: i % 3 ? 'GET' : 'POST', status, aborted: false,
        dimensions: dimensions(e),
        counters: { Failure: status >= 500 ? 1 : 0, ClientError: status >= 400 && status < 500 ? 1 : 0 },
        timers: { RequestTime: ms, CpuTime: ms / 4 },
        timestamp: t0 + e * 1000 + i,
      })
    }
    for (const r of routes) times.get(r)!.push(perRoute.get(r)!)
    // Every fifth entry in the old schema: an agent reads both, and their points merge alike.
    const entry = rawEntry(`${t0 + e * 1000}-0`, batch, e % 5 === 4 ? 1 : 2)
    raw.push(entry)
    out.push(decoded(entry))
  }
  return { entries: out, raw, times, statuses }
}
