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
import type { Series } from './publisher.js'

// Tags the agent sets itself win over dimensions of the same name; `time` cannot be a tag key in InfluxQL.
const RESERVED_TAGS = new Set(['route', 'method', 'prefix', 'time'])

/**
 * Escapes a measurement name: commas and spaces. Line breaks, which cannot be escaped, become spaces; a
 * leading `#` (a comment line to InfluxDB, silently ignored) becomes `_`; see {@link escapeTag} for `\\`.
 *
 * @example
 * escapeMeasurement('Request Time') // 'Request\\ Time'
 */
export function escapeMeasurement(name: string): string {
  return name.replace(/[\r\n]/g, ' ').replace(/^#/, '_').replace(/\\(?=[, ]|$)/g, '/').replace(/([, ])/g, '\\$1')
}

/**
 * Escapes a tag key, tag value or field key: commas, equals signs and spaces.
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
  return text.replace(/[\r\n]/g, ' ').replace(/\\(?=[,= ]|$)/g, '/').replace(/([,= ])/g, '\\$1')
}

/**
 * The point timestamp in nanoseconds for stream entry `id` (`<ms>-<seq>`), as a decimal string.
 * Throws a TypeError for an id that is not a stream id (the agent only passes ids Redis gave it).
 *
 * @example
 * entryTimestampNs('1763798400123-7') // '1763798400123000007'
 */
export function entryTimestampNs(id: string): string {
  const match = /^(\d{1,15})-(\d{1,6})$/.exec(id)
  // A sequence ≥ 10^6 (a million XADDs in one millisecond) would collide with the next millisecond.
  if (match === null) throw new TypeError(`not a stream entry id usable as a timestamp: ${id}`)
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
 * @example
 * const body = seriesToLines(entry.series(), entryTimestampNs(entry.id))
 */
export function seriesToLines(series: readonly Series[], timestampNs: string): string {
  // Tag sets repeat across the metrics of a group; each group's tags are rendered once per call.
  const tagCache = new Map<Series['group'], string>()
  const points = new Map<string, { type: Series['type'], count: number, sum: number, min: number, max: number }>()
  for (const s of series) {
    if (s.name === '') continue
    let tags = tagCache.get(s.group)
    if (tags === undefined) {
      tags = renderTags(s.group)
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
    if (point === undefined) points.set(key, { type: s.type, count: s.count, sum: s.sum, min: s.min, max: s.max })
    else merge(point, s)
  }
  let out = ''
  for (const [key, p] of points) {
    if (out !== '') out += '\n'
    out += key + ' count=' + p.count + 'i,sum=' + float(p.sum) + ',min=' + float(p.min) + ',max=' + float(p.max) + ' ' + timestampNs
  }
  return out
}

function merge(into: { count: number, sum: number, min: number, max: number }, from: { count: number, sum: number, min: number, max: number }): void {
  into.count += from.count
  into.sum += from.sum
  if (from.min < into.min) into.min = from.min
  if (from.max > into.max) into.max = from.max
}

function renderTags(group: Series['group']): string {
  const pairs: Array<[string, string]> = []
  if (group.route !== '') pairs.push(['route', group.route])
  if (group.method !== '') pairs.push(['method', group.method])
  if (group.prefix !== '') pairs.push(['prefix', group.prefix])
  for (const key in group.dimensions) {
    const value = group.dimensions[key]
    if (key !== '' && value !== '' && !RESERVED_TAGS.has(key)) pairs.push([key, value])
  }
  // Sorted by key, as InfluxDB recommends (it sorts them itself otherwise).
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  let tags = ''
  for (const [k, v] of pairs) tags += ',' + escapeTag(k) + '=' + escapeTag(v)
  return tags
}

/** A float field value. `String(n)` gives `1e+21` for big values, which InfluxDB parses as a float. */
function float(n: number): string {
  return String(n)
}
