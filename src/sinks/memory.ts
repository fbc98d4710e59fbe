import type { MetricRecord } from '../collect/record.js'
import { drainInto } from '../pipeline/registry.js'
import { countDrop } from '../util/drops.js'
import type { Sink } from './sink.js'

/** Options of {@link memorySink}. */
export interface MemorySinkOptions {
  /** Records kept; past it the oldest go (counted as `sink` drops). Default 10,000. */
  max?: number
}

/** A sink that keeps the last `max` records in memory: for tests, the demo, and in-process dashboards. */
export interface MemorySink extends Sink {
  /** The records kept, oldest first (a copy of the list; the records themselves are frozen in spirit). */
  records(): MetricRecord[]
  /** Forgets every record kept. */
  clear(): void
}

/**
 * Keeps finished records in memory, bounded.
 *
 * @example
 * const sink = memorySink()
 * const server = http.createServer(withMetrics(app, { sink }))
 * // … after some requests:
 * await sink.flush()
 * for (const r of sink.records()) console.log(r.route, r.status, r.timers.RequestTime)
 */
export function memorySink(options: MemorySinkOptions = {}): MemorySink {
  const max = options.max ?? 10_000
  if (!Number.isInteger(max) || max < 1) {
    throw new TypeError(`routemeter: memorySink option "max" must be a positive integer, got ${String(max)}`)
  }
  let kept: MetricRecord[] = []
  const sink: MemorySink = {
    send(batch) {
      for (const record of batch) kept.push(record)
      if (kept.length > max) {
        countDrop('sink', kept.length - max)
        kept = kept.slice(kept.length - max)
      }
    },
    flush: () => drainInto(sink),
    close: () => drainInto(sink),
    records: () => kept.slice(),
    clear() {
      kept = []
    },
  }
  return sink
}
