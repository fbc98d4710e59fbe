import type { MetricRecord } from '../collect/record.js'

/** Options of {@link writeStatsd}. */
export interface StatsdEncoding {
  /** Put in front of every name (`shop.`), already safe; `''` for none. */
  prefix: string
  /** Add DogStatsD tags: `method`, `status` class (`2xx`), and every dimension. */
  tags: boolean
}

// Anything but these is replaced: ':' '|' '@' '#' ',' '=' spaces and newlines would split or forge a metric
// in the StatsD line format (`name:value|type|@rate|#tags`). So every line is ASCII: its length is its bytes.
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

function tagsOf(record: MetricRecord): string {
  const tags: string[] = []
  if (record.kind === 'request') {
    tags.push(`method:${record.method}`, `status:${record.status === 0 ? 'none' : `${Math.floor(record.status / 100)}xx`}`)
  }
  for (const key in record.dimensions) tags.push(`${tagSafe(key)}:${tagSafe(record.dimensions[key]!)}`)
  return tags.length === 0 ? '' : `|#${tags.join(',')}`
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000

/**
 * Turns a batch into StatsD lines named `[prefix.]route.Metric`: each timer value a timing line (so the
 * backend keeps the distribution), counters summed per name and tag set across the batch (one line per
 * series per flush instead of one per request; `Failure` and `ClientError` are 0/1 on every request, so
 * their sums are error counts and `RequestTime`'s count is the request count). Lines are built here, in one
 * pass, rather than through hot-shots' per-metric calls: the bench profile showed its per-call formatting
 * and debug logging costing more than the encoding itself.
 *
 * @example
 * writeStatsd(batch, { prefix: 'shop.', tags: true }, (line) => packer.add(line))
 */
export function writeStatsd(batch: readonly MetricRecord[], encoding: StatsdEncoding, emit: (line: string) => void): void {
  const counts = new Map<string, number>()
  for (const record of batch) {
    const base = record.route === '' ? '' : `${record.route}.`
    const stem = record.prefix === '' ? encoding.prefix + base : `${encoding.prefix}${statsdSafe(record.prefix)}.${base}`
    const tags = encoding.tags ? tagsOf(record) : ''
    for (const metric in record.timers) emit(`${stem}${statsdSafe(metric)}:${round(record.timers[metric]!)}|ms${tags}`)
    for (const metric in record.counters) {
      const key = `${stem}${statsdSafe(metric)}\0${tags}`
      counts.set(key, (counts.get(key) ?? 0) + record.counters[metric]!)
    }
  }
  for (const [key, value] of counts) {
    const split = key.indexOf('\0')
    emit(`${key.slice(0, split)}:${value}|c${key.slice(split + 1)}`)
  }
}

/**
 * Packs lines into packets of at most `maxBytes` (lines are ASCII, so length is bytes), newline-separated as
 * StatsD expects; `flush` hands over the last, partly filled packet.
 *
 * @example
 * const packer = packetPacker(1400, (packet) => socket.send(packet))
 */
export function packetPacker(maxBytes: number, send: (packet: string) => void): { add(line: string): void; flush(): void } {
  let packet = ''
  return {
    add(line) {
      if (packet.length > 0 && packet.length + 1 + line.length > maxBytes) {
        send(packet)
        packet = line
      } else packet = packet.length === 0 ? line : `${packet}\n${line}`
    },
    flush() {
      if (packet.length > 0) send(packet)
      packet = ''
    },
  }
}
