/**
 * The agent's one interface to a backend. The agent hands a publisher decoded stream entries and acks them
 * in Redis only once every publisher's `publish` resolved, so a publisher resolves only when the backend
 * has the data (InfluxDB answered 204), or when it has done all it can (StatsD over UDP).
 */
import type { DecodedBatch, DecodedGroup } from '../pipeline/stream-encoding.js'

/** One stream entry, decoded, with its per-series aggregate computed on first use and shared by publishers. */
export interface AgentEntry {
  /** Stream entry id, `<ms>-<seq>`. Publishers derive deterministic point identities from it. */
  readonly id: string
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
}

/**
 * Receives decoded entries. Reject with a {@link PublishError} whose `permanent` is true when the backend
 * refused the data itself (the agent then isolates the bad entry and dead-letters it); any other rejection
 * is treated as transient and retried with backoff.
 *
 * @example
 * const counting: Publisher = {
 *   name: 'counting',
 *   async publish(entries) { for (const e of entries) total += e.batch.count },
 *   async close() {},
 * }
 * startAgent({ publishers: [counting] })
 */
export interface Publisher {
  /** Short name for logs and status lines (`influx`, `statsd`, `console`). */
  readonly name: string
  publish(entries: readonly AgentEntry[]): Promise<void>
  /** Flushes and releases sockets. */
  close(): Promise<void>
}

/**
 * A publisher's failure. `permanent: true` means retrying the same data cannot succeed (InfluxDB 400 for a
 * malformed point); otherwise the agent retries with backoff.
 *
 * @example
 * throw new PublishError('influx rejected the points: 400 unable to parse', { permanent: true })
 */
export class PublishError extends Error {
  override readonly name = 'PublishError'
  readonly permanent: boolean
  constructor(message: string, options: { permanent: boolean, cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.permanent = options.permanent
  }
}
