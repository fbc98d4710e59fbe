import { performance } from 'node:perf_hooks'

/*
 * The Unix time of a `performance.now()` reading, for the records' timestamps.
 *
 * Why not `performance.timeOrigin + now`: `timeOrigin` is the system clock when the process started, and
 * `performance.now()` runs on the monotonic clock, which a step of the system clock does not move (NTP or chrony
 * setting a freshly booted VM's clock, an operator's `date -s`, a VM resumed from a snapshot). From the step on,
 * every timestamp is off by it, for the life of the process. Seen in CI: a record stamped 27 ms before a
 * `Date.now()` read before its request was sent, minutes into the test process.
 *
 * So the offset between the two clocks is measured again at every flush (`syncWallClock`, called by the batcher
 * once per batch, never on the request path) and a record is stamped with the offset of the flush that sends it.
 */

/** The offset in use: Unix ms at `performance.now()` 0. */
let offset = performance.timeOrigin

/**
 * The offset to hold after a new `reading` of `Date.now() − performance.now()` when `held` was held.
 *
 * `Date.now()` counts whole milliseconds, truncated, so a reading lies up to 1 ms under the true offset. A reading
 * less than 1 ms under the held one is that truncation: the held offset stays. A higher reading is closer to the
 * truth and is taken. A reading 1 ms or more under it is a step of the system clock back: taken too. So the
 * offset held is never more than 1 ms from the clock's, whichever way it was stepped.
 *
 * @example
 * nextOffset(1000.4, 999.9)  // 1000.4: truncation
 * nextOffset(1000.4, 1000.7) // 1000.7: closer
 * nextOffset(1000.4, 973.0)  // 973: the clock was set back 27 ms
 * nextOffset(1000.4, 1060.2) // 1060.2: the clock was set forward
 */
export function nextOffset(held: number, reading: number): number {
  const drift = reading - held
  return drift > 0 || drift <= -1 ? reading : held
}

/**
 * Measures the offset between the system clock and `performance.now()` again. Once per flush.
 *
 * @example
 * syncWallClock()
 * const records = closed.map((c) => ({ ...fields(c), timestamp: unixMs(c.start) }))
 */
export function syncWallClock(): void {
  offset = nextOffset(offset, Date.now() - performance.now())
}

/**
 * The Unix time in ms of the `performance.now()` reading `now`, by the offset of the last `syncWallClock()`.
 *
 * @example
 * const timestamp = unixMs(c.start) // 1796308474611.25
 */
export function unixMs(now: number): number {
  return offset + now
}
