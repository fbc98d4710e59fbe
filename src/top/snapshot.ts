/**
 * What `routemeter top` shows, as data: the reader and window (`top/window.ts`) produce a Snapshot about once
 * a second, the screen (`top/screen.ts`) and `--once --json` render it. Rates are per second over the
 * window (`ratesOverMs` says exactly how); percentages are 0–100; times are milliseconds.
 */

/** The orders `s` cycles through, and `--sort` takes. */
export const SORT_KEYS = ['rps', 'p99', 'cpu', 'errors'] as const
export type SortKey = typeof SORT_KEYS[number]

/** One route (and method) over the window. */
export interface RouteRow {
  readonly route: string
  readonly method: string
  /** Requests in the window. */
  readonly requests: number
  /** Requests per second: requests over `ratesOverMs` (see {@link Snapshot.ratesOverMs}). */
  readonly rps: number
  /** RequestTime quantiles over the window, from the merged sketches; undefined with no timing. */
  readonly p50: number | undefined
  readonly p99: number | undefined
  /** Mean CpuTime per request; undefined when the app records no CpuTime (`cpu: false`). */
  readonly cpuMean: number | undefined
  /** This route's part of all request CpuTime in the window, 0–100. */
  readonly cpuShare: number
  readonly failurePct: number
  readonly clientErrorPct: number
  readonly abortedPct: number
  /** Requests per second in each of the last `sparkSeconds` seconds, oldest first. */
  readonly spark: readonly number[]
}

/** The whole view at one moment. */
export interface Snapshot {
  /** When it was taken (ms since the epoch). */
  readonly at: number
  readonly windowMs: number
  /**
   * What `rps` figures are divided by, ms. A stream older than the window: the window's complete slots (all but
   * the one in progress, whose entries are still arriving; its requests are left out of the rates, not of the
   * counts). A younger stream: the time since its earliest request (at least 1 s), over all its requests, so a
   * new stream's rates are not diluted by seconds it did not exist.
   */
  readonly ratesOverMs: number
  readonly stream: string
  /** `connecting` before the first reply, `up`, or `reconnecting` while Redis is away. */
  readonly state: 'connecting' | 'up' | 'reconnecting'
  /** No entry seen in the window (a stream with no entries yet, or an idle app). */
  readonly empty: boolean
  /** Stream entries in the window. */
  readonly entries: number
  readonly totals: {
    readonly requests: number
    readonly rps: number
    readonly failurePct: number
    readonly clientErrorPct: number
    readonly abortedPct: number
    /** Request CpuTime in the window, ms. */
    readonly cpuMs: number
  }
  /** Distinct app processes whose entries arrived in the window; undefined when the entries do not say. */
  readonly processes: number | undefined
  /** Entries the agents' consumer group has not read yet (XINFO GROUPS `lag`); undefined when unknown. */
  readonly lag: number | undefined
  /** Entries in the stream (XLEN); undefined when unknown. */
  readonly streamLength: number | undefined
  /** Metrics and records the apps dropped in the window, by reason (their `routemeter.dropped.<reason>` counters). */
  readonly dropped: Readonly<Record<string, number>>
  /** Every route seen in the window, in `sort` order (the screen shows as many as fit). */
  readonly routes: readonly RouteRow[]
  readonly sort: SortKey
  /** Entries in the window that could not be decoded (garbage, a newer schema), skipped; absent when none. */
  readonly unreadable?: number
  /** Why the reader is not `up` (the last connection error, password masked); absent while `up`. */
  readonly lastError?: string
}
