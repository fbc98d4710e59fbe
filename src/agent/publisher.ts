/**
 * The agent's one interface to a backend. The agent hands a publisher decoded stream entries and acks them
 * in Redis only once every publisher's `publish` resolved, so a publisher resolves only when the backend
 * has the data (InfluxDB answered 204), or when it has done all it can (StatsD over UDP).
 */
import type { AgentEntry } from '../wire/series.js'

export type { AgentEntry, Series, StatusClass } from '../wire/series.js'

/**
 * Receives decoded entries. Reject with a {@link PublishError}: `permanent: true` when the backend refused
 * the data itself (the agent isolates the bad entry and dead-letters it), `permanent: false` when the
 * backend is unavailable and the data is fine (retried with backoff for as long as it takes). Any other
 * rejection is retried too, but each failed attempt counts as a delivery of the entries in it, so an entry
 * that keeps failing is dead-lettered after `maxDeliveries`.
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
  /**
   * Removes this publisher's credentials (every spelling) from a text. Optional; the agent applies it to
   * everything it logs or dead-letters, on top of the publisher's own care with its error messages.
   */
  redact?(text: string): string
}

/**
 * A publisher's failure. `permanent: true` means retrying the same data cannot succeed (InfluxDB 400 for a
 * malformed point); `permanent: false` means the backend, not the data, is the problem (down, 5xx, 401):
 * the agent retries with backoff, without counting deliveries.
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
