import { canonicalName, forgesStandard, inRange } from '../collect/metric-rules.js'
import type { MetricRecord } from '../collect/record.js'
import { countDrop } from '../util/drops.js'

/** Options of {@link writeStatsd}. */
export interface StatsdEncoding {
  /** Put in front of every name (`shop.`), already safe; `''` for none. */
  prefix: string
  /** Add DogStatsD tags: `method`, `status` class (`2xx`), and every dimension. */
  tags: boolean
}

// Anything but these is replaced: ':' '|' '@' '#' ',' '=' spaces and newlines would split or forge a metric
// in the StatsD line format (`name:value|type|@rate|#tags`). So every line is ASCII: its length is its bytes.
const UNSAFE_TAG = /[^A-Za-z0-9_./-]/g

/**
 * A metric name as StatsD can carry it: every character but `[A-Za-z0-9_.-]` becomes `_`, no empty levels.
 * It is {@link canonicalName}, the normalisation the door checks names with, so no name the door let through
 * can come out as a standard metric's.
 *
 * @example
 * statsdSafe('db query|x') // 'db_query_x'
 */
export function statsdSafe(name: string): string {
  return canonicalName(name)
}

function tagSafe(text: string): string {
  return text.replace(UNSAFE_TAG, '_')
}

function tagsOf(record: MetricRecord): string {
  const tags: string[] = []
  if (record.kind === 'request') {
    tags.push(`method:${tagSafe(record.method)}`, `status:${record.status === 0 ? 'none' : `${Math.floor(record.status / 100)}xx`}`)
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
 * Records that never met the door (built by hand, or by another producer) are held to its rules here: a
 * name that would come out as a standard metric without being it (`.Failure`, a timer `Failure`) is left
 * out and counted as a `name` drop, a value beyond ±1e15 (or not a number) as a `value` drop.
 *
 * @example
 * writeStatsd(batch, { prefix: 'shop.', tags: true }, (line) => packer.add(line))
 */
export function writeStatsd(batch: readonly MetricRecord[], encoding: StatsdEncoding, emit: (line: string) => void): void {
  const counts = new Map<string, number>()
  let badNames = 0
  let badValues = 0
  for (const record of batch) {
    // Routes from the namer are already safe (a cached lookup then); a hand-built one may not be.
    const base = record.route === '' ? '' : `${statsdSafe(record.route)}.`
    const stem = record.prefix === '' ? encoding.prefix + base : `${encoding.prefix}${statsdSafe(record.prefix)}.${base}`
    const tags = encoding.tags ? tagsOf(record) : ''
    for (const metric in record.timers) {
      const value = record.timers[metric]
      if (forgesStandard(metric, 'timer')) badNames++
      else if (!inRange(value)) badValues++
      else emit(`${stem}${statsdSafe(metric)}:${round(value)}|ms${tags}`)
    }
    for (const metric in record.counters) {
      const value = record.counters[metric]
      if (forgesStandard(metric, 'counter')) badNames++
      else if (!inRange(value)) badValues++
      else {
        const key = `${stem}${statsdSafe(metric)}\0${tags}`
        counts.set(key, (counts.get(key) ?? 0) + value)
      }
    }
  }
  if (badNames > 0) countDrop('name', badNames)
  if (badValues > 0) countDrop('value', badValues)
  for (const [key, value] of counts) {
    const split = key.indexOf('\0')
    emit(`${key.slice(0, split)}:${value}|c${key.slice(split + 1)}`)
  }
}

/**
 * How many tags (in order, of the given sizes in bytes) fit on a line whose part before the tags
 * (`name:value|type`) is `headBytes` long, the line at most `maxBytes` with its `|#` and commas; -1 when not
 * even the head fits. The one rule both StatsD encoders cap their lines by.
 *
 * @example
 * tagsThatFit(20, [10, 11], 40) // 1: '|#method:GET' fits, ',tenant:acme' does not
 */
export function tagsThatFit(headBytes: number, tagBytes: readonly number[], maxBytes: number): number {
  if (headBytes > maxBytes) return -1
  let bytes = headBytes
  for (let i = 0; i < tagBytes.length; i++) {
    bytes += tagBytes[i]! + (i === 0 ? 2 : 1)
    if (bytes > maxBytes) return i
  }
  return tagBytes.length
}

/** `line` cut to `maxBytes` by dropping its last tags; `undefined` when its name and value alone are longer. */
function fitLine(line: string, maxBytes: number): string | undefined {
  const at = line.indexOf('|#')
  const head = at < 0 ? line : line.slice(0, at)
  const tags = at < 0 ? [] : line.slice(at + 2).split(',')
  const n = tagsThatFit(head.length, tags.map((tag) => tag.length), maxBytes)
  if (n < 0) return undefined
  return n === 0 ? head : `${head}|#${tags.slice(0, n).join(',')}`
}

/**
 * Packs lines into packets of at most `maxBytes` (lines are ASCII, so length is bytes), newline-separated as
 * StatsD expects; `flush` hands over the last, partly filled packet. A line longer than a packet is cut to
 * fit by dropping its last tags (DogStatsD's 8 KB read buffer would otherwise truncate it mid-line, and a
 * datagram over the MTU is fragmented or dropped), or dropped whole when its name and value alone do not
 * fit; either way counted once as a `size` drop.
 *
 * @example
 * const packer = packetPacker(1400, (packet) => socket.send(packet))
 */
export function packetPacker(maxBytes: number, send: (packet: string) => void): { add(line: string): void; flush(): void } {
  let packet = ''
  return {
    add(whole) {
      let line: string | undefined = whole
      if (line.length > maxBytes) {
        // Rare (a record with many long dimensions), so the parse back into tags costs nothing in general.
        countDrop('size')
        line = fitLine(line, maxBytes)
        if (line === undefined) return
      }
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
