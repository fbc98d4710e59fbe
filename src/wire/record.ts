/**
 * What one finished request (or one interval of process-level metrics) turns into once it leaves the
 * request path. The Batcher builds these from closed collectors at flush time, off the hot path; every
 * sink receives them.
 *
 * @example
 * const record: MetricRecord = {
 *   kind: 'request', prefix: '', route: 'users.id', method: 'GET', status: 200, aborted: false,
 *   dimensions: { service: 'shop' },
 *   counters: { Failure: 0, ClientError: 0, Aborted: 0 },
 *   timers: { RequestTime: 1.8, CpuTime: 0.4 },
 *   timestamp: 1763798400000,
 * }
 */
export interface MetricRecord {
  /** `request`: one finished request. `process`: metrics recorded outside any request, per interval. */
  readonly kind: 'request' | 'process'
  /** The wrapper's namespace (`prefix` option), `''` when none. Name-based sinks put it in front. */
  readonly prefix: string
  /** Route name (`users.id.posts`, `unmatched`, `other`); `''` on process records. */
  readonly route: string
  /** Upper-case HTTP method, `OTHER` for unknown verbs; `''` on process records. */
  readonly method: string
  /** Response status code; 0 when the client hung up before headers were sent, and on process records. */
  readonly status: number
  /** True when the connection closed before the response finished. */
  readonly aborted: boolean
  /** Default dimensions merged with the ones the app set during the request. */
  readonly dimensions: Readonly<Record<string, string>>
  /** Counters: `Failure`, `ClientError`, `Aborted` (0 or 1) on requests, plus the app's (summed per name). */
  readonly counters: Readonly<Record<string, number>>
  /** Timers in milliseconds: `RequestTime`, `CpuTime` (unless `cpu: false`), plus the app's (summed per name). */
  readonly timers: Readonly<Record<string, number>>
  /**
   * Start of the request (or of the interval), milliseconds since the Unix epoch, by the system clock as it stood
   * at the flush that sent the record (within 1 ms of `Date.now()`, also after the clock was stepped).
   */
  readonly timestamp: number
}
