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
 * @example
 * const body = seriesToLines(entry.series(), entryTimestampNs(entry.id))
 */
export function seriesToLines(series: readonly Series[], timestampNs: string): string {
  let out = ''
  // Tag sets repeat across the metrics of a group; cache each group's rendered tags once per call.
  const tagCache = new Map<Series['group'], string>()
  for (const s of series) {
    if (s.name === '') continue
    let tags = tagCache.get(s.group)
    if (tags === undefined) {
      const pairs: Array<[string, string]> = []
      if (s.group.route !== '') pairs.push(['route', s.group.route])
      if (s.group.method !== '') pairs.push(['method', s.group.method])
      if (s.group.prefix !== '') pairs.push(['prefix', s.group.prefix])
      for (const key in s.group.dimensions) {
        const value = s.group.dimensions[key]
        if (key !== '' && value !== '' && !RESERVED_TAGS.has(key)) pairs.push([key, value])
      }
      // Sorted by key, as InfluxDB recommends (it sorts them itself otherwise).
      pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      tags = ''
      for (const [k, v] of pairs) tags += ',' + escapeTag(k) + '=' + escapeTag(v)
      tagCache.set(s.group, tags)
    }
    if (out !== '') out += '\n'
    out += escapeMeasurement(s.name) + tags + ' count=' + s.count + 'i,sum=' + float(s.sum) + ',min=' + float(s.min) +
      ',max=' + float(s.max) + ' ' + timestampNs
  }
  return out
}

/** A float field value. `String(n)` gives `1e+21` for big values, which InfluxDB parses as a float. */
function float(n: number): string {
  return String(n)
}
