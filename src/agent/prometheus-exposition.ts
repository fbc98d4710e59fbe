/**
 * The Prometheus side of the agent: cumulative per-series state built from stream entries, and its text
 * exposition (format 0.0.4, what every Prometheus scrapes by default).
 *
 * ```
 * entry.series() ─► merge(): family × label set → histogram buckets / counter value (since agent start)
 *                   render(): # HELP/# TYPE, _bucket{le} cumulative, _sum, _count, <name>_total
 * ```
 *
 * Names follow OpenTelemetry's HTTP semantic conventions as Prometheus spells them: `RequestTime` becomes
 * the histogram `http_server_request_duration_seconds` with labels `http_route`, `http_request_method`,
 * `status_class` (and `http_response_status_code` on request), other timers `routemeter_<name>_milliseconds`
 * and counters `routemeter_<name>_total` (`Failure` → `routemeter_failure_total`).
 *
 * Classic buckets, not native histograms: Debian's Prometheus (2.42) ingests native histograms only behind
 * `--enable-feature=native-histograms` and only over protobuf scraping, so a text endpoint works with every
 * Prometheus as configured out of the box. Each sketch bucket `(2^((k-1)/32), 2^(k/32)]` ms moves to the
 * smallest `le` ≥ its upper bound: counts are never placed below their value, and a value is placed at most
 * one `le` too high only when its sketch bucket straddles a boundary, so each cumulative count is exact for
 * a boundary at most 2.2 % (one sketch bucket) below the `le` it is written under.
 */
import { STANDARD_METRICS } from '../wire/metric-rules.js'
import { bucketIndex } from '../wire/sketch.js'
import { optionChecks } from '../util/option-check.js'
import { wellFormed } from '../util/printable.js'
import type { Series } from './publisher.js'

/**
 * The default `le` boundaries in milliseconds: ten a decade (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5) from
 * 0.5 ms to 10 s, then 15, 20, 30 and 60 s. They contain every boundary of OpenTelemetry's default HTTP
 * duration histogram (5 ms … 10 s), so `le="0.25"` style SLO queries keep working, and neighbours differ by
 * at most a factor 1.33: `histogram_quantile`'s linear interpolation inside a bucket is then off by at most
 * 33 %, and by about 1–3 % on smooth latency distributions (measured in test/agent/prometheus-server.test.ts).
 *
 * @example
 * prometheusPublisher({ port: 9464, bucketsMs: DEFAULT_BUCKETS_MS.filter((ms) => ms >= 1) })
 */
export const DEFAULT_BUCKETS_MS: readonly number[] = (() => {
  const out = [0.5, 0.75]
  for (const decade of [1, 10, 100, 1000]) for (const m of [1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5]) out.push(m * decade)
  return [...out, 10_000, 15_000, 20_000, 30_000, 60_000]
})()

/**
 * Options of {@link PrometheusState}.
 *
 * @example
 * new PrometheusState({ bucketsMs: [5, 10, 25, 50, 100, 250, 500, 1000], maxSeries: 1000 })
 */
export interface ExpositionOptions {
  /** `le` boundaries in ms, ascending. Default {@link DEFAULT_BUCKETS_MS}. */
  bucketsMs?: readonly number[]
  /** Add `http_response_status_code` to request series. Default false. */
  statusCode?: boolean
  /** Label sets kept before new ones go to the family's overflow series. Default 10,000. */
  maxSeries?: number
}

const REQUEST_DURATION = 'http_server_request_duration_seconds'
const RESERVED_LABELS = new Set([
  'http_route', 'http_request_method', 'status_class', 'http_response_status_code', 'prefix', 'le', 'otel_metric_overflow',
])
const OVERFLOW_LABELS = '{otel_metric_overflow="true"}'
// The publisher's own counters: an app metric of the same name would make the family appear twice.
const OWN_NAMES = new Set(['routemeter_prometheus_overflow_total', 'routemeter_prometheus_duplicate_entries_total'])

interface Histogram { kind: 'histogram', labels: string, buckets: Float64Array, sum: number, count: number }
interface Counter { kind: 'counter', labels: string, value: number }
interface Family { name: string, help: string, kind: 'histogram' | 'counter', seconds: boolean, children: Map<string, Histogram | Counter> }

/**
 * `CpuTime` → `cpu_time`, `db.query-ms` → `db_query_ms`: snake case of what the metric name regex allows.
 *
 * @example
 * snakeName('CpuTime') // 'cpu_time'
 */
export function snakeName(name: string): string {
  const snake = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2').toLowerCase()
  return snake.replace(/[^a-z0-9_]+/g, '_').replace(/_+/g, '_').replace(/^_|_$/g, '') || '_'
}

/**
 * A dimension key as a label name (`[a-zA-Z_][a-zA-Z0-9_]*`, no reserved `__` start).
 *
 * @example
 * labelName('x-team') // 'x_team'
 */
export function labelName(key: string): string {
  const clean = key.replace(/[^a-zA-Z0-9_]/g, '_')
  return /^[0-9]/.test(clean) ? '_' + clean : clean.startsWith('__') ? 'x' + clean : clean === '' ? '_' : clean
}

/**
 * A label value in the text format: backslash, double quote and line feed escaped, and a lone surrogate written
 * as the U+FFFD it becomes in UTF-8, so that two routes differing only there share one label text, and so one
 * series (written as two, Prometheus kept one of them: 3 requests sent, 2 stored).
 *
 * @example
 * labelValue('a"b') // 'a\\"b'
 */
export function labelValue(value: string): string {
  const text = wellFormed(value)
  return /[\\"\n]/.test(text) ? text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : text
}

// HELP text escapes only `\\` and line feeds; JSON's escaping of control characters, backslashes turned to
// `/`, keeps an app's name on one readable line.
function helpText(name: string): string {
  return JSON.stringify(name).slice(1, -1).replace(/\\/g, '/')
}

/**
 * A sample value as Prometheus parses it (`+Inf`, `-Inf`, `NaN`, else the shortest round-trip decimal).
 *
 * @example
 * sampleValue(Infinity) // '+Inf'
 */
export function sampleValue(n: number): string {
  return n === Infinity ? '+Inf' : n === -Infinity ? '-Inf' : String(n)
}

/**
 * Cumulative state since the agent started, keyed by metric family and label set, with its exposition.
 *
 * @example
 * const state = new PrometheusState({ statusCode: true })
 * state.merge(entry.series())
 * response.end(state.render())
 */
export class PrometheusState {
  /**
   * Label sets that went to an overflow series because `maxSeries` was reached, and series of metric names
   * first seen after it was reached (left out: no family is created for them), counted per merge.
   */
  overflowed = 0
  private readonly families = new Map<string, Family>()
  private readonly boundsMs: Float64Array
  private readonly leSeconds: string[]
  private readonly leMs: string[]
  private readonly slotOf = new Map<number, number>()
  private readonly statusCode: boolean
  private readonly maxSeries: number
  private series = 0
  // Keyed by the group object: series of one group share it, and the entry's groups go with the entry.
  private readonly groupLabels = new WeakMap<Series['group'], string>()

  constructor(options: ExpositionOptions = {}) {
    const bounds = options.bucketsMs ?? DEFAULT_BUCKETS_MS
    const ascending = (b: number, i: number): boolean => Number.isFinite(b) && b > 0 && (i === 0 || b > bounds[i - 1])
    if (!Array.isArray(bounds) || bounds.length === 0 || !bounds.every(ascending)) {
      optionChecks('prometheusPublisher').fail('bucketsMs', 'a non-empty array of ascending positive finite numbers', bounds)
    }
    this.boundsMs = Float64Array.from(bounds)
    // toPrecision(12) drops the float noise of ms/1000 (7.5/1000) so `le` reads as the boundary was written.
    this.leSeconds = [...bounds.map((b) => String(Number((b / 1000).toPrecision(12)))), '+Inf']
    this.leMs = [...bounds.map((b) => String(b)), '+Inf']
    this.statusCode = options.statusCode === true
    this.maxSeries = options.maxSeries ?? 10_000
  }

  /** Adds one entry's series to the totals. Series with a non-finite number are skipped (never thrown). */
  merge(series: readonly Series[]): void {
    for (const s of series) {
      if (s.name === '' || !Number.isFinite(s.sum) || !Number.isFinite(s.count) || s.count < 0) continue
      const request = s.group.kind === 'request'
      const isDuration = request && s.type === 'timer' && s.name === 'RequestTime'
      const name = isDuration ? REQUEST_DURATION : `routemeter_${snakeName(s.name)}_${s.type === 'timer' ? 'milliseconds' : 'total'}`
      let family = this.families.get(name)
      if (family === undefined) {
        if (OWN_NAMES.has(name)) continue
        // A new name is a new family with its own overflow series: past maxSeries, names an entry can make up
        // without limit would grow the state without limit too, so they are counted and left out. The standard
        // metrics (five names) always get theirs, into its overflow series if need be, so their totals stay exact.
        if (this.series >= this.maxSeries && !STANDARD_METRICS.has(s.name)) { this.overflowed++; continue }
        const help = isDuration
          ? 'Duration of HTTP server requests (routemeter RequestTime).'
          : `routemeter ${s.type} ${helpText(s.name)}${s.type === 'timer' ? ' in milliseconds' : ''}.`
        family = { name, help, kind: s.type === 'timer' ? 'histogram' : 'counter', seconds: isDuration, children: new Map() }
        this.families.set(name, family)
      }
      let labels = this.labels(s)
      let child = family.children.get(labels)
      if (child === undefined) {
        if (this.series >= this.maxSeries) {
          // One overflow series per family keeps `sum(...)` exact when the label sets run out (OTel's rule).
          this.overflowed++
          labels = OVERFLOW_LABELS
          child = family.children.get(labels)
        } else this.series++
        if (child === undefined) {
          child = family.kind === 'histogram'
            ? { kind: 'histogram', labels, buckets: new Float64Array(this.boundsMs.length + 1), sum: 0, count: 0 }
            : { kind: 'counter', labels, value: 0 }
          family.children.set(labels, child)
        }
      }
      if (child.kind === 'counter') { child.value += s.sum; continue }
      child.count += s.count
      child.sum += family.seconds ? s.sum / 1000 : s.sum
      this.fill(child.buckets, s)
    }
  }

  /** The whole exposition, one family after another in first-seen order. */
  render(): string {
    let text = ''
    for (const chunk of this.chunks()) text += chunk
    return text
  }

  /**
   * The exposition in pieces of about `bytes` each (never splitting a series), for a server that yields to the
   * event loop between them. Merges that happen between two pieces show in the later ones: each series is
   * consistent in itself (its buckets, `_sum` and `_count` are rendered in one go), as Prometheus requires.
   */
  * chunks(bytes = 256 * 1024): Generator<string> {
    let text = ''
    for (const f of this.families.values()) {
      text += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.kind}\n`
      const le = f.seconds ? this.leSeconds : this.leMs
      for (const c of f.children.values()) {
        if (c.kind === 'counter') {
          text += `${f.name}${c.labels} ${sampleValue(c.value)}\n`
        } else {
          const open = c.labels === '' ? '{' : c.labels.slice(0, -1) + ','
          let cumulative = 0
          for (let i = 0; i < le.length; i++) {
            cumulative += c.buckets[i]
            text += `${f.name}_bucket${open}le="${le[i]}"} ${sampleValue(cumulative)}\n`
          }
          text += `${f.name}_sum${c.labels} ${sampleValue(c.sum)}\n${f.name}_count${c.labels} ${sampleValue(c.count)}\n`
        }
        if (text.length >= bytes) {
          yield text
          text = ''
        }
      }
    }
    if (text !== '') yield text
  }

  /** Moves a timer's sketch buckets into `le` slots (zero and negative values ≤ every boundary: slot 0). */
  private fill(buckets: Float64Array, s: Series): void {
    const sketch = s.sketch
    if (sketch === undefined) {
      // No sketch (not written by routemeter's aggregation): the max bounds every value, so no count lands low.
      buckets[s.max > 0 ? this.slot(bucketIndex(s.max)) : 0] += s.count
      return
    }
    buckets[0] += sketch.zero
    sketch.forEachBucket((index, count, negative) => { buckets[negative ? 0 : this.slot(index)] += count })
  }

  /** The smallest `le` slot whose boundary is ≥ sketch bucket `index`'s upper bound, `2^(index/32)` ms. */
  private slot(index: number): number {
    let slot = this.slotOf.get(index)
    if (slot !== undefined) return slot
    const upper = 2 ** (index / 32)
    const b = this.boundsMs
    let lo = 0
    let hi = b.length
    while (lo < hi) { const mid = (lo + hi) >> 1; if (b[mid] >= upper) hi = mid; else lo = mid + 1 }
    slot = lo
    // Indices are bounded by the sketch (±1e15 ms: ≈ 2,900 of them), so the cache is too.
    this.slotOf.set(index, slot)
    return slot
  }

  /** `{http_route="…",…}` for a series' group, rendered once per group object and status. */
  private labels(s: Series): string {
    const cached = this.groupLabels.get(s.group)
    if (cached !== undefined) return cached
    const g = s.group
    const pairs: Array<[string, string]> = []
    if (g.route !== '') pairs.push(['http_route', g.route])
    if (g.method !== '') pairs.push(['http_request_method', g.method])
    if (s.statusClass !== undefined) pairs.push(['status_class', s.statusClass])
    if (this.statusCode && g.kind === 'request' && g.status !== undefined && g.status > 0) {
      pairs.push(['http_response_status_code', String(g.status)])
    }
    if (g.prefix !== '') pairs.push(['prefix', g.prefix])
    const taken = new Set(pairs.map(([k]) => k))
    for (const key of Object.keys(g.dimensions).sort()) {
      const value = g.dimensions[key]
      const name = labelName(key)
      // An empty value means "no label" to Prometheus; a key the agent's own labels use, or that cleans to
      // one already taken, is left out rather than written twice (a duplicate label fails the whole scrape).
      if (value === '' || taken.has(name) || RESERVED_LABELS.has(name)) continue
      taken.add(name)
      pairs.push([name, value])
    }
    const text = pairs.length === 0 ? '' : '{' + pairs.map(([k, v]) => `${k}="${labelValue(v)}"`).join(',') + '}'
    this.groupLabels.set(s.group, text)
    return text
  }
}
