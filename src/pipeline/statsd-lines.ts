import type { MetricRecord } from '../collect/record.js'

/** The part of a hot-shots client the encoder needs (also satisfied by a hot-shots child client). */
export interface StatsdWriter {
  timing(name: string, value: number, tags?: string[]): void
  increment(name: string, value: number, tags?: string[]): void
}

/** Options of {@link writeStatsd}. */
export interface StatsdEncoding {
  /** Add DogStatsD tags: `method`, `status` class (`2xx`), and every dimension. */
  tags: boolean
}

// Anything but these is replaced: ':' '|' '@' '#' ',' '=' spaces and newlines would split or forge a metric
// in the StatsD line format (`name:value|type|@rate|#tags`).
const UNSAFE_NAME = /[^A-Za-z0-9_.-]/g
const UNSAFE_TAG = /[^A-Za-z0-9_./-]/g
const SAFE_CACHE_SIZE = 4096
const safeNames = new Map<string, string>()

/**
 * A metric name as StatsD can carry it: every character but `[A-Za-z0-9_.-]` becomes `_`, no empty levels.
 *
 * @example
 * statsdSafe('db query|x') // 'db_query_x'
 */
export function statsdSafe(name: string): string {
  let safe = safeNames.get(name)
  if (safe === undefined) {
    safe = name.replace(UNSAFE_NAME, '_').replace(/\.{2,}/g, '.').replace(/^\.|\.$/g, '') || '_'
    if (safeNames.size >= SAFE_CACHE_SIZE) safeNames.clear()
    safeNames.set(name, safe)
  }
  return safe
}

function tagSafe(text: string): string {
  return text.replace(UNSAFE_TAG, '_')
}

function tagsOf(record: MetricRecord): string[] {
  const tags: string[] = []
  if (record.kind === 'request') {
    tags.push(`method:${record.method}`, `status:${record.status === 0 ? 'none' : `${Math.floor(record.status / 100)}xx`}`)
  }
  for (const key in record.dimensions) tags.push(`${tagSafe(key)}:${tagSafe(record.dimensions[key]!)}`)
  return tags
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000

/**
 * Writes a batch as StatsD metrics named `[prefix.]route.Metric`: each timer value as a timing (so the
 * backend keeps the distribution), counters summed per name and tag set across the batch (one packet line
 * per series per flush instead of one per request; `Failure` and `ClientError` are 0/1 on every request,
 * so their sums are error counts and `RequestTime`'s count is the request count).
 *
 * @example
 * writeStatsd(hotShotsClient, batch, { tags: true })
 */
export function writeStatsd(client: StatsdWriter, batch: readonly MetricRecord[], encoding: StatsdEncoding): void {
  const counts = new Map<string, { name: string; value: number; tags: string[] | undefined }>()
  for (const record of batch) {
    const base = record.route === '' ? '' : `${record.route}.`
    const stem = record.prefix === '' ? base : `${statsdSafe(record.prefix)}.${base}`
    const tags = encoding.tags ? tagsOf(record) : undefined
    const tagKey = tags === undefined ? '' : tags.join(',')
    for (const metric in record.timers) {
      client.timing(stem + statsdSafe(metric), round(record.timers[metric]!), tags)
    }
    for (const metric in record.counters) {
      const name = stem + statsdSafe(metric)
      const key = `${name}\0${tagKey}`
      const series = counts.get(key)
      if (series === undefined) counts.set(key, { name, value: record.counters[metric]!, tags })
      else series.value += record.counters[metric]!
    }
  }
  for (const series of counts.values()) client.increment(series.name, series.value, series.tags)
}
