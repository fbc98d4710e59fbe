import { canonicalName } from './metric-rules.js'
import type { MetricRecord } from './record.js'
import { countDrop } from '../util/drops.js'
import { statsdWriter, type StatsdEncoding, type StatsdSeries, type StatsdWriter } from './statsd-encoder.js'

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

/**
 * Turns a batch into StatsD lines through the shared encoder (statsd-encoder.ts, which the agent's
 * `statsdPublisher` uses too): each timer value a timing line (so the backend keeps the distribution),
 * counters summed per name and tag set across the batch (one line per series per flush instead of one per
 * request; `Failure` and `ClientError` are 0/1 on every request, so their sums are error counts and
 * `RequestTime`'s count is the request count). Lines are built here, in one pass, rather than through
 * hot-shots' per-metric calls: the bench profile showed its per-call formatting and debug logging costing
 * more than the encoding itself.
 *
 * @example
 * writeStatsd(batch, statsdEncoding({ prefix: 'shop', tags: true }, 'statsdSink'), (line) => packer.add(line))
 */
export function writeStatsd(batch: readonly MetricRecord[], encoding: StatsdEncoding, emit: (line: string) => void): void {
  const writer = statsdWriter(encoding, emit)
  // The series of a plain request record (no prefix, no dimensions: what withMetrics writes unless told
  // otherwise) depends on its route, method, status and whether it was aborted only, so one series per such
  // group serves the batch: a flush of 500 requests on a few routes builds a few series, not 500.
  const plain = new Map<string, Map<string, Map<number, StatsdSeries>>>()
  for (const record of batch) {
    const series = isPlain(record) ? plainSeries(plain, writer, record) : writer.series(record)
    for (const metric in record.timers) writer.timer(series, metric, record.timers[metric]!)
    for (const metric in record.counters) writer.counter(series, metric, record.counters[metric]!)
  }
  writer.end()
}

/** A request record without prefix or dimensions, of a whole status (the key below doubles it). */
function isPlain(record: MetricRecord): boolean {
  if (record.kind !== 'request' || record.prefix !== '' || !Number.isInteger(record.status)) return false
  for (const _ in record.dimensions) return false
  return true
}

function plainSeries(plain: Map<string, Map<string, Map<number, StatsdSeries>>>, writer: StatsdWriter, record: MetricRecord): StatsdSeries {
  let byMethod = plain.get(record.route)
  if (byMethod === undefined) plain.set(record.route, byMethod = new Map<string, Map<number, StatsdSeries>>())
  let byStatus = byMethod.get(record.method)
  if (byStatus === undefined) byMethod.set(record.method, byStatus = new Map<number, StatsdSeries>())
  const status = 2 * record.status + (record.aborted ? 1 : 0)
  let series = byStatus.get(status)
  if (series === undefined) byStatus.set(status, series = writer.series(record))
  return series
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
 * fit; either way counted once as a `size` drop. `send` gets the packet and its number of lines (what a
 * server's work per packet grows with).
 *
 * @example
 * const packer = packetPacker(1400, (packet) => socket.send(packet))
 */
export function packetPacker(maxBytes: number, send: (packet: string, lines: number) => void): { add(line: string): void, flush(): void } {
  let packet = ''
  let lines = 0
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
        send(packet, lines)
        packet = line
        lines = 1
      } else {
        packet = packet.length === 0 ? line : `${packet}\n${line}`
        lines++
      }
    },
    flush() {
      if (packet.length > 0) send(packet, lines)
      packet = ''
      lines = 0
    },
  }
}
