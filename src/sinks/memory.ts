import type { MetricRecord } from '../wire/record.js'
import { countDrop } from '../util/drops.js'
import { optionChecks, optionsObject } from '../util/option-check.js'
import type { Sink } from './sink.js'

/** Options of {@link memorySink}. */
export interface MemorySinkOptions {
  /** Records kept; past it the oldest go (counted as `sink` drops). Default 10,000. */
  max?: number
}

/** A sink that keeps the last `max` records in memory: for tests, the demo, and in-process dashboards. */
export interface MemorySink extends Sink {
  /** The records kept, oldest first (a copy of the list). */
  records(): MetricRecord[]
  /** Forgets every record kept. */
  clear(): void
}

/**
 * Keeps finished records in memory, bounded. A ring: once full, each new record replaces the oldest in
 * place, so a full sink costs the same per record as an empty one (copying the list per batch did not).
 *
 * @example
 * const sink = memorySink()
 * const server = http.createServer(withMetrics(app, { sink }))
 * // … after some requests:
 * await sink.flush()
 * for (const r of sink.records()) console.log(r.route, r.status, r.timers.RequestTime)
 */
export function memorySink(options?: MemorySinkOptions): MemorySink {
  const o = optionsObject('memorySink', options)
  const max = optionChecks('memorySink').integer('max', o.max, 10_000, 1, Number.MAX_SAFE_INTEGER)
  let ring: MetricRecord[] = []
  let oldest = 0 // index of the oldest record once the ring is full
  const sink: MemorySink = {
    send(batch) {
      for (const record of batch) {
        if (ring.length < max) ring.push(record)
        else {
          ring[oldest] = record
          oldest = oldest + 1 === max ? 0 : oldest + 1
          countDrop('sink')
        }
      }
    },
    // Nothing of its own to push out: the pipeline hands over whatever its batchers still hold before this.
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
    records: () => (oldest === 0 ? ring.slice() : [...ring.slice(oldest), ...ring.slice(0, oldest)]),
    clear() {
      ring = []
      oldest = 0
    },
  }
  return sink
}
