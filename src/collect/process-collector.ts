import { performance } from 'node:perf_hooks'
import { takeUnreportedDrops } from '../util/drops.js'
import { unixMs } from '../util/wall-clock.js'
import { Collector } from './collector.js'
import { windowClock } from './cpu-clock.js'
import type { MetricRecord } from '../wire/record.js'

const NO_DIMENSIONS: Record<string, string> = Object.freeze(Object.create(null) as Record<string, string>)

function fresh(): Collector {
  return new Collector(windowClock, null, '', '', NO_DIMENSIONS, performance.now())
}

let current = fresh()

/**
 * Where `metrics` records when no request is running (startup code, a queue consumer, a timer). One per
 * process; the first live wrapper ships it with each of its flushes. Until a wrapper exists it keeps
 * accumulating: counters and timers add up per name, so it stays bounded by the per-collector name limit.
 */
export function processCollector(): Collector {
  return current
}

/** Swaps in an empty process collector and returns the old one's record (with drop counters), if any. */
export function takeProcessRecord(): MetricRecord | undefined {
  const drops = takeUnreportedDrops()
  const c = current
  if (c.isEmpty() && drops === undefined) return undefined
  current = fresh()
  return {
    kind: 'process',
    prefix: '',
    route: '',
    method: '',
    status: 0,
    aborted: false,
    dimensions: NO_DIMENSIONS,
    counters: drops === undefined ? { ...c.counters } : { ...c.counters, ...drops },
    timers: { ...c.timers },
    timestamp: unixMs(c.start),
  }
}
