/** Why a metric (or a whole record) did not reach a sink unchanged. */
export type DropReason =
  | 'name' // metric or dimension name not a string of 1..128 characters, unprintable, or reserved; in the agent, a name that collided
  | 'value' // NaN, ±Infinity, |value| > 1e15, a negative time, a non-number
  | 'limit' // a request tried to record more distinct names than a collector holds
  | 'route' // route name over the `maxRoutes` budget: the request was kept, named `other`
  | 'buffer' // the Batcher's buffer was full: the oldest records were dropped
  | 'sink' // a sink's `send` failed: that batch is gone
  | 'backlog' // a sink's own backlog (Redis unreachable) was full: its oldest entries were dropped
  | 'close' // close() gave up at its bound on records still buffered or in a send that never settled, or came after it
  | 'dns' // the StatsD sink's host was not resolved (lookup failed, timed out, or waiting to retry): the batch was dropped
  | 'size' // a StatsD line longer than a packet: its last tags (or, if its name alone does not fit, the line) were dropped

const total = Object.create(null) as Record<string, number>
const unreported = Object.create(null) as Record<string, number>
let anyUnreported = false

/**
 * Counts a drop. Every drop is visible twice: in `stats()` and as a `routemeter.dropped.<reason>` counter on
 * the next process record, so a backend can alert on it. A sink that reports its own drops by another road
 * (the Redis sink writes its backlog drops straight to Redis) passes `reported = true`: counted, not re-sent.
 *
 * @example
 * countDrop('value')
 */
export function countDrop(reason: DropReason, n = 1, reported = false): void {
  total[reason] = (total[reason] ?? 0) + n
  if (reported) return
  unreported[reason] = (unreported[reason] ?? 0) + n
  anyUnreported = true
}

/**
 * Totals since the process started, by reason.
 *
 * @example
 * dropTotals() // { value: 2, route: 14 }
 */
export function dropTotals(): Record<string, number> {
  return { ...total }
}

/** Drops counted since the last call, as `routemeter.dropped.<reason>` counters; `undefined` when none. */
export function takeUnreportedDrops(): Record<string, number> | undefined {
  if (!anyUnreported) return undefined
  const out = Object.create(null) as Record<string, number>
  for (const reason in unreported) {
    out[`routemeter.dropped.${reason}`] = unreported[reason]!
    delete unreported[reason]
  }
  anyUnreported = false
  return out
}
