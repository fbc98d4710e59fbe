/**
 * The one StatsD encoding, shared by both roads to a StatsD server:
 *
 * ```
 * app:   MetricRecord[] ──► writeStatsd (statsd-lines.ts) ──┐
 *                                                           ├─► statsdWriter: names, tags, lines ─► packetPacker ─► UDP
 * agent: AgentEntry[]   ──► statsdPublisher (its series) ───┘
 * ```
 *
 * A line is `<name>:<value>|ms|#<tags>` or `<name>:<value>|c|#<tags>`, with
 *   - name `[prefix.][record prefix.][route.]<Metric>`, each part through {@link canonicalName};
 *   - tags (only with `tags: true`, DogStatsD): `method`, `status_class` (`1xx`…`5xx`, `aborted`, `other`) and,
 *     with `statusCode: true`, `status_code` on request series; then the dimensions, in their order;
 *   - timers one line per value, rounded to µs; counters summed per (name, tags) within one writer (one flush
 *     on the app side, one stream entry in the agent).
 * Both sides build every line through {@link statsdWriter}, so they cannot drift apart again.
 */
import { canonicalName, forgesStandard, inRange } from './metric-rules.js'
import { countDrop } from '../util/drops.js'
import { optionChecks } from '../util/option-check.js'
import { statusClass } from './status-class.js'

/** Options of {@link statsdEncoding}. */
export interface StatsdEncodingOptions {
  /** Namespace in front of every name (`shop` → `shop.users.id.RequestTime`). Default none. */
  prefix?: string
  /** DogStatsD tags: `method`, `status_class` and the dimensions. Default false (plain StatsD). */
  tags?: boolean
  /** With `tags`, also the exact code as `status_code` (`404`; `0` when none was sent). Default false. */
  statusCode?: boolean
}

/** The options of {@link StatsdEncodingOptions}, checked and precomputed once. */
export interface StatsdEncoding {
  /** `shop.`, or `''`. */
  readonly prefix: string
  readonly tags: boolean
  readonly statusCode: boolean
}

/** What identifies a series: a {@link MetricRecord}, or a stream entry's decoded group. */
export interface StatsdSeriesKey {
  readonly kind: 'request' | 'process'
  readonly prefix: string
  readonly route: string
  readonly method: string
  /** The response status code; 0 or absent when none was sent. */
  readonly status?: number
  readonly aborted?: boolean
  readonly dimensions: Readonly<Record<string, string>>
}

/** A series' name stem and tag suffix, computed once per series by {@link StatsdWriter.series}. */
export interface StatsdSeries {
  /** `[prefix.][record prefix.][route.]` */
  readonly stem: string
  /** `''`, or `|#method:GET,status_class:2xx,…` */
  readonly tags: string
  /** `stem` and `tags` in one string, built once: what the writer sums counters under (with the metric's name). */
  readonly key: string
}

// Tags whose keys are ours: a dimension with such a key would arrive as a second `status_class` and could
// turn a failure into a success on dashboards, so it is left out of the tags (it stays in the record).
const OURS = new Set(['method', 'status_class', 'status_code'])
// Anything but these is replaced in tags: ':' '|' '@' '#' ',' '=' spaces and newlines would split or forge a
// metric in the line format, and lines stay ASCII, so a line's length is its size in bytes.
const UNSAFE_TAG = /[^A-Za-z0-9_./-]/g

/**
 * Checks the options once (a bad one throws an `OptionError` naming it, as an option of `owner`) and
 * precomputes the prefix.
 *
 * @example
 * const encoding = statsdEncoding({ prefix: 'shop', tags: true }, 'statsdSink')
 */
export function statsdEncoding(options: StatsdEncodingOptions, owner: string): StatsdEncoding {
  const check = optionChecks(owner)
  const prefix = check.string('prefix', options.prefix, '', { empty: true })
  const tags = check.boolean('tags', options.tags, false)
  const statusCode = check.boolean('statusCode', options.statusCode, false)
  return {
    prefix: prefix === '' ? '' : `${canonicalName(prefix)}.`,
    tags,
    statusCode: tags && statusCode,
  }
}

const tagSafe = (text: string): string => text.replace(UNSAFE_TAG, '_')
const round = (ms: number): number => Math.round(ms * 1000) / 1000

/** Writes lines for one flush (app) or one stream entry (agent); see {@link statsdWriter}. */
export interface StatsdWriter {
  /** The series' stem and tags. Callers with shared keys (the agent's groups) cache the result. */
  series(key: StatsdSeriesKey): StatsdSeries
  /** One timing line, or a counted drop (a name forging a standard metric, a value beyond ±1e15). */
  timer(series: StatsdSeries, metric: string, value: number): void
  /** Adds to the series' counter; the line goes out at {@link StatsdWriter.end}. */
  counter(series: StatsdSeries, metric: string, value: number): void
  /** Emits the summed counters and counts the drops. */
  end(): void
}

/**
 * A writer handing finished lines to `emit`. Records that never met the app-side door (built by hand, from
 * another producer, read from a stream) are held to its rules here: a metric name that would come out as a
 * standard metric without being it (`.Failure`, a timer `Failure`) is left out and counted as a `name` drop,
 * a value beyond ±1e15 (or not a number) as a `value` drop.
 *
 * @example
 * const writer = statsdWriter(encoding, (line) => packer.add(line))
 * for (const record of batch) {
 *   const series = writer.series(record)
 *   for (const m in record.timers) writer.timer(series, m, record.timers[m])
 * }
 * writer.end()
 */
export function statsdWriter(encoding: StatsdEncoding, emit: (line: string) => void): StatsdWriter {
  // Series key → the series and its sums by canonical metric name. Keyed by the series' own key string, built
  // once per series, rather than by a string built per counter value: two series objects of one name (the
  // agent's groups that differ only in what the line does not carry) still sum into one line, and a counter
  // costs two map lookups on strings whose hashes are already known. With writeStatsd's one series per group
  // (statsd-lines.ts), measured by `bench/instructions.mjs --only rm-discard,rm-statsd,rm-statsd-before
  // --routes tiny` (Node 24.22, the build before in ROUTEMETER_BENCH_DIST_BEFORE): the StatsD sink's own work
  // fell by 5,900 instructions a request (+22,100 → +16,300 over bare) and its garbage collection from 12,300
  // to 1,700 a request (two runs before, both 12,300): a series and three key strings built per record.
  const counts = new Map<string, Map<string, CounterSum>>()
  // The same sums in the order they were first seen, which is the order their lines go out in.
  const order: CounterSum[] = []
  let badNames = 0
  let badValues = 0
  return {
    series(key) {
      // Routes from the namer are already canonical (a cached lookup then); a hand-built one may not be.
      const base = key.route === '' ? '' : `${canonicalName(key.route)}.`
      const stem = key.prefix === '' ? encoding.prefix + base : `${encoding.prefix}${canonicalName(key.prefix)}.${base}`
      const tags = encoding.tags ? tagsOf(key, encoding.statusCode) : ''
      return { stem, tags, key: `${stem}\0${tags}` }
    },
    timer(series, metric, value) {
      if (forgesStandard(metric, 'timer')) badNames++
      else if (!inRange(value)) badValues++
      else emit(`${series.stem}${canonicalName(metric)}:${round(value)}|ms${series.tags}`)
    },
    counter(series, metric, value) {
      if (forgesStandard(metric, 'counter')) badNames++
      else if (!inRange(value)) badValues++
      else {
        let byName = counts.get(series.key)
        if (byName === undefined) counts.set(series.key, byName = new Map<string, CounterSum>())
        const name = canonicalName(metric)
        const sum = byName.get(name)
        if (sum !== undefined) sum.value += value
        else {
          const first = { series, name, value }
          byName.set(name, first)
          order.push(first)
        }
      }
    },
    end() {
      if (badNames > 0) countDrop('name', badNames)
      if (badValues > 0) countDrop('value', badValues)
      for (const { series, name, value } of order) emit(`${series.stem}${name}:${value}|c${series.tags}`)
      counts.clear()
      order.length = 0
      badNames = 0
      badValues = 0
    },
  }
}

/** A counter's sum over a writer's batch, for one series and one canonical metric name. */
interface CounterSum { readonly series: StatsdSeries, readonly name: string, value: number }

function tagsOf(key: StatsdSeriesKey, statusCode: boolean): string {
  let tags = ''
  if (key.kind === 'request') {
    const status = key.status ?? 0
    tags = `|#method:${tagSafe(key.method)},status_class:${statusClass(status, key.aborted === true)}`
    if (statusCode) tags += `,status_code:${Math.trunc(status) || 0}`
  }
  for (const name in key.dimensions) {
    const safe = tagSafe(name)
    if (OURS.has(safe)) continue
    // Two keys that clean alike (`a b`, `a_b`) would be one tag twice, which backends read differently: the
    // first is kept and the other counted as a name drop, as the Influx encoder does. An empty key is no tag.
    // Cleaned keys hold no ',' nor ':', so a search of what is written so far is exact, and costs no Set.
    if (safe === '' || tags.includes(`,${safe}:`) || tags.startsWith(`|#${safe}:`)) { countDrop('name'); continue }
    tags += `${tags === '' ? '|#' : ','}${safe}:${tagSafe(key.dimensions[name]!)}`
  }
  return tags
}
