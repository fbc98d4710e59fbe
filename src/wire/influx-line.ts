/**
 * InfluxDB line protocol for aggregated series. One point per series per stream entry:
 *
 * ```
 * RequestTime,method=GET,route=users.id,service=shop,status_class=2xx count=12i,sum=36.42,min=1.2,max=4.9,
 *   p50=2.3527,p90=4.7053,p99=4.7053,b9=1i,b39=4i,b40=3i,b72=3i,b74=1i 1763798400123000007
 *                                        (one line in reality, and the quantiles carry every digit of a double)
 * ```
 *
 * A timer's `p50`/`p90`/`p99` are its quantiles over the entry (within 1.08 %); its `b<k>` fields count the
 * values in bucket `k`, `(2^((k-1)/32), 2^(k/32)]` ms (`nb<k>`: the same for negative values, `zero`: values
 * of 0). Quantiles of quantiles are not quantiles, so a dashboard that needs an exact p99 over many entries
 * and hosts sums the bucket fields (`SELECT sum(*) …`) and reads the quantile off the sums
 * ({@link quantileFromSums}); the README shows both ways and their trade-off.
 *
 * The timestamp is the stream entry id turned into nanoseconds (`<ms>` × 10^6 + `<seq>`), so a redelivered
 * entry writes the very same points again and InfluxDB overwrites them: exactly-once in InfluxDB on top
 * of at-least-once delivery. It is built as a string: 1.8 × 10^18 is far past 2^53.
 */
import { forgesStandard } from './metric-rules.js'
import { bucketValue, Sketch } from './sketch.js'
import { countDrop } from '../util/drops.js'
import { wellFormed } from '../util/printable.js'
import type { Series } from './series.js'

// Tags the agent sets itself win over dimensions of the same name; `time` cannot be a tag key in InfluxQL.
const RESERVED_TAGS = new Set(['route', 'method', 'prefix', 'time', 'status_class', 'stream'])

/** Options of {@link seriesToLines}. */
export interface LineOptions {
  /**
   * Add the exact status code as a `status` tag on request series (a dimension named `status` is then not
   * written). Default false: `status_class` (`2xx`…`5xx`, `aborted`) only, so series stay few.
   */
  statusCode?: boolean
  /**
   * The stream the entry came from, as the `stream` tag of every point: entry ids, and so the points' timestamps,
   * repeat across streams (each stream's first entry in a millisecond is `<ms>-0`), and two streams written into
   * one database overwrote each other's points (40 of 100 requests left). Left out when undefined.
   */
  stream?: string
}

// Control characters cannot travel in a name: line breaks end the line, and influxd skips a leading NUL or
// tab as white space (measured against influxd 1.6: '\0Failure' was stored as 'Failure', and a name of one NUL
// or tab left no measurement: 400 for the whole write). A lone surrogate would be sent as U+FFFD, so the
// comparison below must see U+FFFD too.
const NEEDS_CLEANING = /[\0-\x1f\x7f\uD800-\uDFFF]/
const CONTROL = /[\0-\x1f\x7f]/g

function printable(text: string): string {
  return NEEDS_CLEANING.test(text) ? wellFormed(text.replace(CONTROL, ' ')) : text
}

/**
 * Escapes a measurement name: commas and spaces. Control characters (line breaks, NUL, tab), which line
 * protocol cannot carry, become spaces and a lone surrogate U+FFFD; a leading `#` (a comment line to
 * InfluxDB, silently ignored) becomes `_`; see {@link escapeTag} for `\\`. Different names can escape alike:
 * {@link seriesToLines} merges or drops what would collide, and counts it.
 *
 * @example
 * escapeMeasurement('Request Time') // 'Request\\ Time'
 */
export function escapeMeasurement(name: string): string {
  return printable(name).replace(/^#/, '_').replace(/\\(?=[, ]|$)/g, '/').replace(/([, ])/g, '\\$1')
}

/**
 * Escapes a tag key, tag value or field key: commas, equals signs and spaces; control characters become
 * spaces and a lone surrogate U+FFFD, as in {@link escapeMeasurement}.
 *
 * Backslashes are written as they are: InfluxDB 1.x reads `\\` literally and does not unescape `\\\\`
 * (measured against influxd 1.6: `\\\\` came back doubled). A backslash right before a special character
 * or at the end would escape our own separator, and no spelling of it reads back exactly in 1.x, so that
 * one backslash becomes `/`.
 *
 * @example
 * escapeTag('a=b, c') // 'a\\=b\\,\\ c'
 */
export function escapeTag(text: string): string {
  return printable(text).replace(/\\(?=[,= ]|$)/g, '/').replace(/([,= ])/g, '\\$1')
}

/**
 * The point timestamp in nanoseconds for stream entry `id` (`<ms>-<seq>`), as a decimal string, or
 * `undefined` when the id has no exact one InfluxDB can store (the publisher then refuses the entry
 * permanently). Never throws, whatever the id: Redis accepts explicit ids up to `2^64-1` in both parts.
 *
 * @example
 * entryTimestampNs('1763798400123-7') // '1763798400123000007'
 * entryTimestampNs('9999999999999999-0') // undefined: past InfluxDB's int64 nanoseconds (year 2262)
 */
export function entryTimestampNs(id: string): string | undefined {
  const match = /^(\d{1,13})-(\d{1,6})$/.exec(id)
  // A sequence ≥ 10^6 (a million XADDs in one millisecond) would collide with the next millisecond. The
  // largest millisecond whose every sequence fits InfluxDB's int64 nanoseconds is 9223372036853.
  if (match === null || (match[1].length === 13 && match[1] > '9223372036853')) return undefined
  return match[1] + match[2].padStart(6, '0')
}

/**
 * Renders the series of one entry as line-protocol lines (joined with `\n`, no trailing newline).
 *
 * Two series that would get the same point identity (measurement + tag set + the entry's timestamp) are
 * merged into one point, since InfluxDB would otherwise keep only the last: it happens when groups differ
 * only in what the tag set cannot show (an empty dimension value, a dimension named `route`). A counter and
 * a timer with the same name and tags are not merged (their numbers mean different things): the counter
 * is written to measurement `<name>.counter` instead.
 *
 * Names chosen by an app must not cost a request its standard points, so what escaping cannot keep apart is
 * settled here rather than by a 400 for the whole write: two series whose different names escape alike are
 * merged into one point; of two dimension keys that escape alike (`k\n`, `k\r`) the first in sort order is
 * kept (InfluxDB refuses "duplicate tags"); a name that would be written as a standard metric without being
 * it (`.Failure`, a timer `Failure`, which would push the real counter aside) is left out. Each is counted
 * once per entry as a `name` drop, visible in `metrics.stats().dropped.name` of the agent's process.
 *
 * @example
 * const body = seriesToLines(entry.series(), entryTimestampNs(entry.id))
 */
export function seriesToLines(series: readonly Series[], timestampNs: string, options: LineOptions = {}): string {
  const statusCode = options.statusCode === true
  // Tag sets repeat across the metrics of a group; each group's tags are rendered once per call.
  const tagCache = new Map<Series['group'], string>()
  const points = new Map<string, Point>()
  const collisions = { n: 0 }
  for (const s of series) {
    if (s.name === '') continue
    if (forgesStandard(s.name, s.type)) { collisions.n++; continue }
    let tags = tagCache.get(s.group)
    if (tags === undefined) {
      tags = renderTags(s, statusCode, options.stream, collisions)
      tagCache.set(s.group, tags)
    }
    let key = escapeMeasurement(s.name) + tags
    let point = points.get(key)
    if (point !== undefined && point.type !== s.type) {
      const counterKey = escapeMeasurement(s.name + '.counter') + tags
      if (s.type === 'counter') {
        key = counterKey
        point = points.get(key)
        // A timer already named `<name>.counter`: the counter has nowhere to go, and is left out.
        if (point !== undefined && point.type !== 'counter') { collisions.n++; continue }
      } else {
        // The counter came first: move it aside, the timer takes the plain name. A counter moved aside once,
        // or one whose `<name>.counter` a timer holds, is left out rather than merged into a timer.
        points.delete(key)
        const moved = points.get(counterKey)
        if (point.movedAside === true || (moved !== undefined && moved.type !== 'counter')) collisions.n++
        else if (moved === undefined) points.set(counterKey, { ...point, movedAside: true })
        else merge(moved, point)
        point = undefined
      }
    }
    if (point === undefined) {
      points.set(key, { name: s.name, type: s.type, count: s.count, sum: s.sum, min: s.min, max: s.max, sketch: s.sketch, owned: false })
    } else {
      // The same name from groups whose tags render alike is a documented merge; a different name is a collision.
      if (point.name !== s.name) collisions.n++
      merge(point, s)
    }
  }
  // A publisher may render an entry again (a retried write): its series array is the same, counted once.
  if (collisions.n > 0 && !counted.has(series)) {
    counted.add(series)
    countDrop('name', collisions.n)
  }
  let out = ''
  for (const [key, p] of points) {
    if (out !== '') out += '\n'
    out += key + ' count=' + p.count + 'i,sum=' + float(p.sum) + ',min=' + float(p.min) + ',max=' + float(p.max)
    if (p.sketch !== undefined) out += sketchFields(p.sketch)
    out += ' ' + timestampNs
  }
  return out
}

interface Point {
  name: string
  type: Series['type']
  count: number
  sum: number
  min: number
  max: number
  sketch: Sketch | undefined
  /** `sketch` is this point's own copy (merged into), not a series' shared one. */
  owned: boolean
  /** A counter written as `<name>.counter` because a timer took its name. */
  movedAside?: boolean
}

const counted = new WeakSet<readonly Series[]>()

function merge(into: Point, from: Point | Series): void {
  into.count += from.count
  into.sum += from.sum
  if (from.min < into.min) into.min = from.min
  if (from.max > into.max) into.max = from.max
  // A point without a sketch on either side gets none: partial buckets would not add up to `count`.
  if (into.sketch === undefined || from.sketch === undefined) { into.sketch = undefined; return }
  // Series' sketches are shared with other publishers: copied before the first merge into one.
  if (!into.owned) { into.sketch = into.sketch.clone(); into.owned = true }
  into.sketch.merge(from.sketch)
}

/** The quantile and bucket fields of a timer point. */
function sketchFields(sketch: Sketch): string {
  let out = ',p50=' + float(sketch.quantile(0.5)) + ',p90=' + float(sketch.quantile(0.9)) + ',p99=' + float(sketch.quantile(0.99))
  if (sketch.zero > 0) out += ',zero=' + sketch.zero + 'i'
  sketch.forEachBucket((index, n, negative) => { out += (negative ? ',nb' : ',b') + index + '=' + n + 'i' })
  return out
}

/**
 * The value at quantile `q` (0…1) of the values counted in bucket sums, as InfluxDB returns them for
 * `SELECT sum(*) FROM "RequestTime" …`: columns `sum_b<k>` (and `sum_nb<k>`, `sum_zero`). Other columns are
 * ignored. Within 1.08 % of the exact quantile of every value the summed points counted, whatever the time
 * range, the number of entries or hosts. `NaN` when there are no counts.
 *
 * @example
 * const [row] = result.series // { columns: ['time', 'sum_b39', 'sum_b40', …], values: [[0, 3, 5, …]] }
 * const p99 = quantileFromSums(row.columns, row.values[0], 0.99)
 */
export function quantileFromSums(columns: readonly string[], values: readonly unknown[], q: number): number {
  const buckets: Array<[number, number]> = []
  let total = 0
  for (let i = 0; i < columns.length; i++) {
    const match = /^sum_(n?b)(-?\d+)$|^sum_zero$/.exec(columns[i])
    const n = values[i]
    if (match === null || typeof n !== 'number' || !(n > 0)) continue
    // Sorted by value: negative buckets mirrored below zero, zeros at 0.
    const at = match[1] === undefined ? 0 : match[1] === 'nb' ? -bucketValue(Number(match[2])) : bucketValue(Number(match[2]))
    buckets.push([at, n])
    total += n
  }
  if (total === 0 || !(q >= 0 && q <= 1)) return NaN
  buckets.sort((a, b) => a[0] - b[0])
  const rank = Math.floor(q * (total - 1))
  let seen = 0
  for (const [value, n] of buckets) {
    seen += n
    if (seen > rank) return value
  }
  return buckets[buckets.length - 1][0]
}

function renderTags(s: Series, statusCode: boolean, stream: string | undefined, collisions: { n: number }): string {
  const group = s.group
  // Escaped before sorting and comparing: keys that differ only in what escaping cannot keep apart meet here.
  const pairs: Array<[string, string]> = []
  if (stream !== undefined && stream !== '') pairs.push(['stream', escapeTag(stream)])
  if (group.route !== '') pairs.push(['route', escapeTag(group.route)])
  if (group.method !== '') pairs.push(['method', escapeTag(group.method)])
  if (group.prefix !== '') pairs.push(['prefix', escapeTag(group.prefix)])
  if (s.statusClass !== undefined) pairs.push(['status_class', s.statusClass])
  const withCode = statusCode && group.kind === 'request' && group.status !== undefined
  if (withCode) pairs.push(['status', String(group.status)])
  for (const key in group.dimensions) {
    const value = group.dimensions[key]
    if (key === '' || value === '' || RESERVED_TAGS.has(key) || (withCode && key === 'status')) continue
    pairs.push([escapeTag(key), escapeTag(value)])
  }
  // Sorted by key, as InfluxDB recommends (it sorts them itself otherwise). The sort is stable: of equal
  // keys the first pushed (ours, then the dimensions in their order) is the one kept.
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  let tags = ''
  let previous: string | undefined
  for (const [k, v] of pairs) {
    if (k === previous) { collisions.n++; continue }
    previous = k
    tags += ',' + k + '=' + v
  }
  return tags
}

/** A float field value. `String(n)` gives `1e+21` for big values, which InfluxDB parses as a float. */
function float(n: number): string {
  return String(n)
}
