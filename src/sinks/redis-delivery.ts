/**
 * The Redis sink's delivery: batches in, `XADD`s out, nothing lost silently.
 *
 * ```
 * send(batch) ─► encodeBatch (v=1|2, ≤ maxEntryBytes each) ─► Backlog (≤ maxBacklog records, oldest dropped)
 *                                                               │ pump while up: ≤ 32 XADDs in flight
 *        XADD ok ─► delivered                                   ◄┘
 *        XADD failed ─► back in front of the Backlog, in order, once every XADD in flight has settled
 *        backlog drops ─► one `process` record (DROPPED_BACKLOG_COUNTER), straight to XADD, again after a failure
 * ```
 *
 * The delivery knows the connection only by its state and one function that performs an XADD, so it runs (and
 * is tested) without Redis; `redis.ts` wires it to a {@link RedisConnection}.
 */
import type { RedisSinkStats } from './redis.js'
import type { MetricRecord } from '../wire/record.js'
import { encodeBatch, type EncodedEntry } from '../wire/stream-encoding.js'
import { Backlog } from './redis-backlog.js'
import { errorReason, type ConnectionState, type RedisConnection } from './redis-connection.js'
import { countDrop } from '../util/drops.js'

/**
 * Name of the counter carrying backlog drops, in a `process` record sent as soon as Redis takes writes.
 *
 * @example
 * SELECT sum("sum") FROM "routemeter.dropped.backlog" -- records lost to a full backlog
 */
export const DROPPED_BACKLOG_COUNTER = 'routemeter.dropped.backlog'

/**
 * XADDs in flight at most. They are pipelined on one socket, so a drained backlog of 1,000 entries goes
 * out in ≈ 30 round trips, while a single slow reply never holds more than 32 entries out of the queue.
 *
 * @example
 * // 40 entries waiting when Redis comes back: 32 XADDs leave at once, the other 8 as the first replies arrive.
 */
export const MAX_IN_FLIGHT = 32

/** What the delivery needs of a connection: a {@link RedisConnection} has it, so has a test's stand-in. */
export type DeliveryConnection = Pick<RedisConnection, 'state' | 'open' | 'close'>

/** What {@link redisDelivery} needs. */
export interface DeliveryOptions {
  readonly connection: DeliveryConnection
  /**
   * Appends one entry to the stream (called only while the connection is `up`). A rejection is a failed
   * connection: the entry is sent again once the connection, which sees the same failure, is back `up`.
   */
  readonly xadd: (entry: EncodedEntry) => Promise<void>
  /** Records kept while Redis is unreachable; past it the oldest are dropped and counted. */
  readonly maxBacklog: number
  /** Byte cap of one entry's payload; bigger batches split into several entries. */
  readonly maxEntryBytes: number
  readonly encoding: 1 | 2
  /** Upper bound of `flush()` and of `close()`'s flush, in ms. */
  readonly flushTimeoutMs: number
  /** Where entries go, password-free, for messages: `Redis at redis://:***@cache:6379`. */
  readonly destination: string
  /** Reports a drop or a failure (never throws). */
  readonly report: (message: string) => void
}

/** The delivery's counters: the sink's, but for the connection's `state` and `outages` (documented there). */
export type DeliveryStats = Omit<RedisSinkStats, 'state' | 'outages'>

/** The sink's `send`, `flush` and `close`, plus what the connection calls when its state changes. */
export interface RedisDelivery {
  readonly send: (batch: MetricRecord[]) => void
  readonly flush: () => Promise<void>
  /**
   * Flushes within `timeoutMs` (at most `flushTimeoutMs`; that when left out), counts what is left as `close`
   * drops, closes the connection. Idempotent: a second call joins the first.
   */
  readonly close: (timeoutMs?: number) => Promise<void>
  /** The connection changed state: deliver if it is up, release `flush()` waiters if it is down. */
  readonly wake: () => void
  readonly stats: () => DeliveryStats
}

/**
 * Delivery of batches through `options.xadd`, at least once: an entry whose XADD failed goes again (if
 * Redis applied it but the reply was lost with the connection, the agent sees it twice; README: Deploying,
 * "The app side").
 *
 * @example
 * const delivery = redisDelivery({ connection, xadd: (entry) => connection.xadd(entry), maxBacklog: 100_000,
 *   maxEntryBytes: 1 << 20, encoding: 2, flushTimeoutMs: 5000, destination: `Redis at ${target.safe}`, report })
 * delivery.send(batch)
 */
export function redisDelivery(options: DeliveryOptions): RedisDelivery {
  const { connection, xadd, maxBacklog, maxEntryBytes, flushTimeoutMs, destination, report } = options
  const encodeOptions = { version: options.encoding }
  const backlog = new Backlog(maxBacklog)
  let inFlight = 0
  let sequence = 0
  // Entries whose XADD failed, held until every XADD in flight has settled, then put back in front in the
  // order they left: one at a time, the first to fail would end up behind the others.
  let failed: Array<{ sequence: number, entry: EncodedEntry }> = []
  let delivered = 0
  let entriesDelivered = 0
  let droppedBacklog = 0
  let droppedOversize = 0
  let droppedClose = 0
  let pendingDropReport = 0
  let lastDropWarning = -Infinity
  // Drops are reported with the dimensions and prefix of the app's own records, so they land beside its series.
  let lastDimensions: Readonly<Record<string, string>> = {}
  let lastPrefix = ''
  /** Who waits in `flush()` for the backlog to empty; a waiter whose bound passed leaves (none piles up in a long stall). */
  const waiters = new Set<() => void>()
  let closing: Promise<void> | undefined

  const isClosed = (): boolean => connection.state === 'closed'

  const settleWaiters = (): void => {
    const state: ConnectionState = connection.state
    if (inFlight > 0 || (backlog.entries > 0 && (state === 'up' || state === 'connecting'))) return
    const ready = [...waiters]
    waiters.clear()
    for (const resolve of ready) resolve()
  }

  const noteDrops = (): void => {
    const n = backlog.takeDropped()
    if (n > 0) {
      droppedBacklog += n
      countDrop('backlog', n, true) // visible in metrics.stats(); the count itself travels by sendDropReport
    }
    pendingDropReport += n
  }

  /** One XADD done, either way: once none is in flight, the failed ones go back in front. */
  const settled = (): void => {
    inFlight--
    if (inFlight > 0 || failed.length === 0) return
    const back = failed.sort((a, b) => a.sequence - b.sequence).map((f) => f.entry)
    failed = []
    if (isClosed()) {
      // close() already counted the backlog; these came back after it.
      const records = back.reduce((n, e) => n + e.n, 0)
      droppedClose += records
      countDrop('close', records)
      return
    }
    backlog.unshift(...back)
    noteDrops()
    // The connection may be up again already (a client ending after an error reply answers after the new one
    // connected, whose wake found these still out): without this they waited for the app's next batch.
    if (connection.state === 'up') pump()
  }

  /**
   * Sends the count of dropped records as a `process` record, straight to Redis rather than through the
   * backlog: in the backlog it could itself be trimmed, taking the count with it. On failure the count
   * goes back to pending and is sent after the reconnect.
   */
  const sendDropReport = (): void => {
    if (pendingDropReport === 0) return
    const count = pendingDropReport
    pendingDropReport = 0
    const record: MetricRecord = {
      kind: 'process', prefix: lastPrefix, route: '', method: '', status: 0, aborted: false,
      dimensions: lastDimensions, counters: { [DROPPED_BACKLOG_COUNTER]: count }, timers: {},
      timestamp: Date.now(),
    }
    // The counter goes out every time; the warning at most once a minute, for an app that overflows steadily.
    if (Date.now() - lastDropWarning >= 60_000) {
      lastDropWarning = Date.now()
      report(`${count} records were dropped: the backlog (maxBacklog ${maxBacklog}) was full while Redis was unreachable or slower than ` +
        `the app (counter ${DROPPED_BACKLOG_COUNTER})`)
    }
    // Borrowed dimensions can make the record larger than maxEntryBytes (an app's first record of a batch
    // with long ones): then it goes without them, and without the prefix if need be, rather than not at all.
    // With no dimensions and no prefix it fits the smallest maxEntryBytes (256).
    const entry = encodeBatch([record], maxEntryBytes, encodeOptions).entries[0] ??
      encodeBatch([{ ...record, dimensions: {} }], maxEntryBytes, encodeOptions).entries[0] ??
      encodeBatch([{ ...record, dimensions: {}, prefix: '' }], maxEntryBytes, encodeOptions).entries[0]
    if (entry === undefined) return
    inFlight++
    xadd(entry).then(
      () => { entriesDelivered++; settled(); pump(); settleWaiters() },
      () => { pendingDropReport += count; settled(); settleWaiters() },
    )
  }

  const pump = (): void => {
    const state = connection.state
    if (state !== 'up') {
      if (state === 'idle') connection.open()
      return
    }
    // Drops that happened while connected (a burst bigger than the backlog) are reported right away.
    sendDropReport()
    // Nothing newer leaves before the failed entries are back in front.
    if (failed.length > 0) return
    while (inFlight < MAX_IN_FLIGHT && backlog.entries > 0) {
      const entry = backlog.shift() as EncodedEntry
      const mine = ++sequence
      inFlight++
      xadd(entry).then(
        () => {
          delivered += entry.n
          entriesDelivered++
          settled()
          pump()
          settleWaiters()
        },
        () => {
          // At-least-once: if Redis applied the XADD but the reply was lost with the connection, the agent will
          // see the entry twice (README: Deploying, "The app side"). No pump here: the connection is down, and
          // wakes us when it is back.
          failed.push({ sequence: mine, entry })
          settled()
          settleWaiters()
        },
      )
    }
  }

  const send = (batch: MetricRecord[]): void => {
    let queued = false
    try {
      if (batch.length === 0) return
      if (isClosed()) { droppedClose += batch.length; countDrop('close', batch.length); return }
      const { entries, dropped } = encodeBatch(batch, maxEntryBytes, encodeOptions)
      if (dropped > 0) {
        droppedOversize += dropped
        countDrop('sink', dropped)
        report(`${dropped} records dropped: each alone is larger than maxEntryBytes (${maxEntryBytes})`)
      }
      const first = batch[0]
      lastDimensions = first.dimensions
      lastPrefix = first.prefix
      queued = true
      for (const entry of entries) backlog.push(entry)
      noteDrops()
      pump()
    } catch (error) {
      // Only hand-built records can make encoding throw: then the batch is gone and counted like any drop.
      if (!queued) countDrop('sink', batch.length)
      report(`send failed${queued ? '' : `; ${batch.length} records dropped (counted: sink)`}: ${errorReason(error)}`)
    }
  }

  const flush = async (timeoutMs = flushTimeoutMs): Promise<void> => {
    if (isClosed() && closing === undefined) return
    // During an outage, one delivery attempt now instead of at the next backoff tick: a flush before exit
    // should not lose a backlog to a Redis that came back a second ago.
    if (connection.state === 'down' && backlog.entries > 0) connection.open()
    pump()
    const state = connection.state
    if (inFlight === 0 && (backlog.entries === 0 || state === 'down' || state === 'idle')) return
    await new Promise<void>((resolve) => {
      // Deliberately ref'd: whoever awaits flush() or close() (a SIGTERM handler after server.close()) wants
      // the data out, and with an unref'd socket nothing else may keep the process alive until it is. Bounded
      // by flushTimeoutMs; when nobody waits, nothing is ref'd.
      const done = (): void => { clearTimeout(timer); resolve() }
      const timer = setTimeout(() => { waiters.delete(done); resolve() }, timeoutMs)
      waiters.add(done)
    })
  }

  return {
    send,
    flush: () => flush(),
    close: (timeoutMs?: number) => {
      closing ??= (async () => {
        await flush(Math.min(flushTimeoutMs, timeoutMs ?? flushTimeoutMs))
        const left = backlog.clear() + failed.reduce((n, f) => n + f.entry.n, 0)
        failed = []
        if (left > 0) {
          droppedClose += left
          countDrop('close', left)
          report(`closed with ${left} records not delivered to ${destination}; counted as dropped ('close')`)
        }
        // XADDs still unanswered at the bound are given up on: the connection ends now and they fail, counted as
        // `close` drops (settled) before this resolves. Waiting for them as a quiet close does (1 s more) counted
        // them after `metrics.close()` had resolved, when a SIGTERM handler has already exited.
        if (inFlight > 0) {
          await connection.close(0)
          // Ending the connection failed them at once; their handlers count them within this turn's promise jobs.
          await new Promise<void>((resolve) => { setImmediate(resolve) })
        } else {
          await connection.close()
        }
        settleWaiters()
      })()
      return closing
    },
    wake: () => {
      pump()
      settleWaiters()
    },
    stats: () => ({
      delivered, entries: entriesDelivered, backlog: backlog.records, droppedBacklog, droppedOversize, droppedClose,
    }),
  }
}
