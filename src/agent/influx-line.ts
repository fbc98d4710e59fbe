/**
 * InfluxDB line protocol for aggregated series. One point per series per stream entry:
 *
 * ```
 * RequestTime,method=GET,route=users.id,service=shop count=12i,sum=30.5,min=1.2,max=4.9 1763798400123000007
 * ```
 *
 * The timestamp is the stream entry id turned into nanoseconds (`<ms>` × 10^6 + `<seq>`), so a redelivered
 * entry writes the very same points again and InfluxDB overwrites them: exactly-once in InfluxDB on top
 * of at-least-once delivery. It is built as a string: 1.8 × 10^18 is far past 2^53.
 */
import { forgesStandard } from '../collect/metric-rules.js'
import { countDrop } from '../util/drops.js'
import type { Series } from './publisher.js'

// Tags the agent sets itself win over dimensions of the same name; `time` cannot be a tag key in InfluxQL.
const RESERVED_TAGS = new Set(['route', 'method', 'prefix', 'time'])

// Control characters cannot travel in a name: line breaks end the line, and influxd skips a leading NUL or
// tab as white space (measured against influxd 1.6: '\0Failure' was stored as 'Failure', and a name of one NUL
// or tab left no measurement: 400 for the whole write). A lone surrogate would be sent as U+FFFD, so the comparison below must see U+FFFD too.
const NEEDS_CLEANING = /[\0-\x1f\x7f\uD800-\uDFFF]/
const CONTROL = /[\0-\x1f\x7f]/g
const LONE_SURROGATE = /[\uD800-\uDFFF]/gu

function printable(text: string): string {
  return NEEDS_CLEANING.test(text) ? text.replace(CONTROL, ' ').replace(LONE_SURROGATE, '\uFFFD') : text
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
export function seriesToLines(series: readonly Series[], timestampNs: string): string {
  // Tag sets repeat across the metrics of a group; each group's tags are rendered once per call.
  const tagCache = new Map<Series['group'], string>()
  const points = new Map<string, { name: string, type: Series['type'], count: number, sum: number, min: number, max: number }>()
  const collisions = { n: 0 }
  for (const s of series) {
    if (s.name === '') continue
    if (forgesStandard(s.name, s.type)) { collisions.n++; continue }
    let tags = tagCache.get(s.group)
    if (tags === undefined) {
      tags = renderTags(s.group, collisions)
      tagCache.set(s.group, tags)
    }
    let key = escapeMeasurement(s.name) + tags
    let point = points.get(key)
    if (point !== undefined && point.type !== s.type) {
      const counterKey = escapeMeasurement(s.name + '.counter') + tags
      if (s.type === 'counter') {
        key = counterKey
        point = points.get(key)
      } else {
        // The counter came first: move it aside, the timer takes the plain name.
        points.delete(key)
        const moved = points.get(counterKey)
        if (moved === undefined) points.set(counterKey, point)
        else merge(moved, point)
        point = undefined
      }
    }
    if (point === undefined) points.set(key, { name: s.name, type: s.type, count: s.count, sum: s.sum, min: s.min, max: s.max })
    else {
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
    out += key + ' count=' + p.count + 'i,sum=' + float(p.sum) + ',min=' + float(p.min) + ',max=' + float(p.max) + ' ' + timestampNs
  }
  return out
}

const counted = new WeakSet<readonly Series[]>()

function merge(into: { count: number, sum: number, min: number, max: number }, from: { count: number, sum: number, min: number, max: number }): void {
  into.count += from.count
  into.sum += from.sum
  if (from.min < into.min) into.min = from.min
  if (from.max > into.max) into.max = from.max
}

function renderTags(group: Series['group'], collisions: { n: number }): string {
  // Escaped before sorting and comparing: keys that differ only in what escaping cannot keep apart meet here.
  const pairs: Array<[string, string]> = []
  if (group.route !== '') pairs.push(['route', escapeTag(group.route)])
  if (group.method !== '') pairs.push(['method', escapeTag(group.method)])
  if (group.prefix !== '') pairs.push(['prefix', escapeTag(group.prefix)])
  for (const key in group.dimensions) {
    const value = group.dimensions[key]
    if (key !== '' && value !== '' && !RESERVED_TAGS.has(key)) pairs.push([escapeTag(key), escapeTag(value)])
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
