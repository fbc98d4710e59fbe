import { recording, type Recording } from './collect/recording.js'
import { closeAll, flushAll } from './pipeline/registry.js'
import { dropTotals } from './util/drops.js'

/** What `metrics.stats()` returns. */
export interface MetricsStats {
  /** Metrics and records dropped since the process started, by reason (see the README's "Drops"). */
  dropped: Record<string, number>
}

/** The app's handle: recording into the current request (`Recording`), and the pipeline's flush and close. */
export interface Metrics extends Recording {
  /** Sends everything recorded so far: every wrapper's batcher empties into its sink, then every sink flushes. */
  flush(): Promise<void>
  /** Flushes and closes every sink in use (bounded by `timeoutMs`, default 5 s); for SIGTERM handlers. */
  close(timeoutMs?: number): Promise<void>
  /** Drop counters. */
  stats(): MetricsStats
}

/**
 * The app's one handle on routemeter, from anywhere in its code: `count`, `timing`, `timed`, `dimension` and
 * `route` record into the request whose code is running (or, outside a request, into a process-level record);
 * `flush` and `close` drive the pipeline; `stats` shows what was dropped. Never throws into the app.
 *
 * @example
 * import { metrics } from 'routemeter'
 *
 * async function loadUser(id) {
 *   metrics.count('user.load')
 *   return metrics.timed('db.user', () => db.users.find(id))
 * }
 * process.on('SIGTERM', () => metrics.close().then(() => process.exit(0)))
 */
export const metrics: Metrics = {
  ...recording,
  flush: () => flushAll(),
  close: (timeoutMs) => closeAll(timeoutMs),
  stats: () => ({ dropped: dropTotals() }),
}
