/**
 * What the agent makes of a stream entry: the decoded batch and its aggregate per series, the input of every
 * publisher's wire format (Influx lines, StatsD lines, Prometheus exposition).
 */
import type { StatusClass } from './status-class.js'
import type { Sketch } from './sketch.js'
import type { DecodedBatch, DecodedGroup } from './stream-encoding.js'

/** One stream entry, decoded, with its per-series aggregate computed on first use and shared by publishers. */
export interface AgentEntry {
  /** Stream entry id, `<ms>-<seq>`. Publishers derive deterministic point identities from it. */
  readonly id: string
  /**
   * The stream it was read from: ids are unique within one stream only, so a point identity derived from the id
   * includes it (InfluxDB's `stream` tag). Undefined for an entry read from no stream (a test's, a replay's).
   */
  readonly stream?: string
  readonly batch: DecodedBatch
  /** count/sum/min/max per (group, metric), in first-seen order. Computed once per entry. */
  series(): readonly Series[]
}

/** One metric of one group (route, method, dimensions) aggregated over one stream entry. */
export interface Series {
  readonly group: DecodedGroup
  readonly type: 'counter' | 'timer'
  readonly name: string
  count: number
  sum: number
  min: number
  max: number
  /**
   * Timers: the values' quantile sketch (relative error ≤ 1.08 %, see `sketch.ts`). Shared by every
   * publisher of the entry: `clone()` before merging into it.
   */
  sketch?: Sketch
  /** Request series: `1xx`…`5xx`, `aborted`, or `other`; the exact code is `group.status`. */
  statusClass?: StatusClass
}

/** Status class of a request series (`aborted`: the client hung up before the response finished). */
export type { StatusClass }
