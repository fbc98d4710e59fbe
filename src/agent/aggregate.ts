/**
 * Aggregation of one decoded entry into series: group × metric → count, sum, min, max, and for a timer its
 * sketch. Groups carry the status code and whether the records were aborted, so every request series has a
 * status class. Keys are integers built from dictionary indices, so no string is created per record.
 */
import { inRange } from '../wire/metric-rules.js'
import { Sketch } from '../wire/sketch.js'
import { forEachMetric, type DecodedBatch } from '../wire/stream-encoding.js'
import { countDrop } from '../util/drops.js'
import { statusClass } from '../wire/status-class.js'
import type { AgentEntry, Series } from './publisher.js'

/**
 * Aggregates every metric of `batch` per (group, type, name). A v=2 entry arrives aggregated (its series
 * share the decoded sketches); a v=1 entry's rows are summed here (the decoder split its groups by status
 * and aborted) and each timer value goes into a sketch. A value beyond ±1e15 (`MAX_METRIC_VALUE`) is left out and counted as a
 * `value` drop: routemeter's own encoder never writes one, and with every value in range no sum over an
 * entry (≤ 1 MB, so < 10^6 values) can overflow to `Infinity`, which InfluxDB would refuse, dead-lettering
 * the whole entry.
 *
 * @example
 * for (const s of aggregate(batch)) console.log(s.group.route, s.statusClass, s.name, s.sum / s.count, s.sketch?.quantile(0.99))
 */
export function aggregate(batch: DecodedBatch): Series[] {
  if (batch.version === 2) {
    const classes = batch.groups.map((g) => (g.kind === 'request' ? statusClass(g.status ?? 0, g.aborted === true) : undefined))
    return batch.summaries.map((s) => ({
      group: batch.groups[s.group], type: s.type, name: batch.strings[s.name],
      count: s.count, sum: s.sum, min: s.min, max: s.max, sketch: s.sketch, statusClass: classes[s.group],
    }))
  }
  return aggregateRows(batch)
}

function aggregateRows(batch: DecodedBatch): Series[] {
  const out: Series[] = []
  const byKey = new Map<number, Series>()
  const names = batch.strings.length
  const classes = batch.groups.map((g) => (g.kind === 'request' ? statusClass(g.status ?? 0, g.aborted === true) : undefined))
  let outOfRange = 0
  forEachMetric(batch, (g, type, nameIndex, value) => {
    if (!inRange(value)) { outOfRange++; return }
    // Exact integer key: g < groups and nameIndex < names, both bounded by the entry size, far below 2^53.
    const key = (g * names + nameIndex) * 2 + (type === 'timer' ? 1 : 0)
    const series = byKey.get(key)
    if (series === undefined) {
      const created: Series = {
        group: batch.groups[g], type, name: batch.strings[nameIndex], count: 1, sum: value, min: value, max: value,
        sketch: type === 'timer' ? new Sketch() : undefined, statusClass: classes[g],
      }
      created.sketch?.add(value)
      byKey.set(key, created)
      out.push(created)
    } else {
      series.count++
      series.sum += value
      if (value < series.min) series.min = value
      if (value > series.max) series.max = value
      series.sketch?.add(value)
    }
  })
  if (outOfRange > 0) countDrop('value', outOfRange)
  return out
}

/**
 * Wraps a decoded batch as an {@link AgentEntry} whose `series()` is computed once, on first call.
 *
 * @example
 * const entry = agentEntry('1763798400000-0', decodeEntry(fields.v, fields.p), 'routemeter')
 */
export function agentEntry(id: string, batch: DecodedBatch, stream?: string): AgentEntry {
  let cached: Series[] | undefined
  return { id, stream, batch, series: () => (cached ??= aggregate(batch)) }
}
