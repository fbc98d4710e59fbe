/**
 * `redisSink`: each batch becomes one Redis stream entry (`XADD <stream> MAXLEN ~ <maxLen> * v 1 n <count>
 * p <payload>`), read later by `routemeter agent`.
 *
 * ```
 * send(batch) ─► encodeBatch (v=1|2, ≤ maxEntryBytes each) ─► Backlog (≤ maxBacklog records, oldest dropped)
 *                                                               │ pump: ≤ 32 XADDs in flight (pipelined)
 *               Redis up ◄──────────────────────────────────────┘
 *               Redis down: entries stay in the Backlog, one warning, reconnect with backoff (unref'd timer)
 * ```
 *
 * Why the sink owns reconnection instead of node-redis: node-redis' offline queue is unbounded and its
 * reconnect sleep is a ref'd timer (it would hold the app open while Redis is away). With
 * `disableOfflineQueue` and `reconnectStrategy: false` every byte waiting for Redis sits in our bounded
 * Backlog, and every timer and socket is unref'd.
 */
import type { RedisClientType } from 'redis'
import type { MetricRecord } from '../wire/record.js'
import type { ErrorHandler, Sink } from './sink.js'
import { DEFAULT_MAX_ENTRY_BYTES, encodeBatch, type EncodedEntry } from '../wire/stream-encoding.js'
import { Backlog } from './redis-backlog.js'
import { resolveRedisTarget } from '../redis/target.js'
import { countDrop } from '../util/drops.js'
import { optionChecks, optionsObject } from '../util/option-check.js'
import { warningHandler } from '../util/warn.js'

/** Options of {@link redisSink}. */
export interface RedisSinkOptions {
  /**
   * `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS); `redis+cluster://host:port,host:port`
   * for Cluster; `redis+sentinel://host:26379,host:26379/<master>` for Sentinel. Default: env
   * `ROUTEMETER_REDIS_URL`, else `redis://127.0.0.1:6379`.
   */
  url?: string
  /** Stream key. Default `routemeter`. */
  stream?: string
  /** Approximate cap on the stream's length in entries (`XADD … MAXLEN ~`); 0 disables trimming. Default 10,000. */
  maxLen?: number
  /** Records kept locally while Redis is unreachable; past it the oldest are dropped and counted. Default 100,000. */
  maxBacklog?: number
  /** Byte cap of one entry's payload; bigger batches split into several entries. Default 1 MiB. */
  maxEntryBytes?: number
  /** Upper bound of `flush()` and of `close()`'s flush, in ms. Default 5,000. */
  flushTimeoutMs?: number
  /** Connection attempt timeout in ms. Default 2,000. */
  connectTimeoutMs?: number
  /** Receives outage warnings and undeliverable-data reports (passwords redacted). Default: a `RouteMeterWarning` (README, Warnings). */
  onError?: ErrorHandler
  /**
   * Stream schema: `2` (default: per route, method, status and dimensions, counter sums and a quantile sketch
   * per timer, ≈ 5–18 bytes a request at 500–2,000 requests a flush) or `1` (one row of numbers per record,
   * ≈ 48 bytes a request). The agent reads both; `1` is for agents that predate v=2.
   */
  encoding?: 1 | 2
}

/** What a {@link redisSink} has done so far. */
export interface RedisSinkStats {
  /** `up`, `connecting`, `down` (waiting to reconnect), `idle` (nothing sent yet) or `closed`. */
  readonly state: 'idle' | 'connecting' | 'up' | 'down' | 'closed'
  /** Records acknowledged by Redis. */
  readonly delivered: number
  /** Entries acknowledged by Redis (drop reports included). */
  readonly entries: number
  /** Records currently waiting locally. */
  readonly backlog: number
  /** Records dropped because the backlog was full (total since start). */
  readonly droppedBacklog: number
  /** Records dropped because one alone exceeded `maxEntryBytes`. */
  readonly droppedOversize: number
  /** Records `close()` could not deliver, and records sent after it (also counted as `close` drops). */
  readonly droppedClose: number
  /** Outages seen (each warned about once). */
  readonly outages: number
}

/** A {@link Sink} that writes to a Redis stream, plus its counters. */
export interface RedisSink extends Sink {
  stats(): RedisSinkStats
}

/**
 * Name of the counter carrying backlog drops, in a `process` record sent as soon as Redis takes writes.
 *
 * @example
 * SELECT sum("sum") FROM "routemeter.dropped.backlog" -- records lost to a full backlog
 */
export const DROPPED_BACKLOG_COUNTER = 'routemeter.dropped.backlog'

// ≤ 32 XADDs in flight: node-redis pipelines them on one socket, so a drained backlog of 1,000 entries
// goes out in ≈ 30 round trips while a single slow reply never holds more than 32 entries out of the queue.
const MAX_IN_FLIGHT = 32
const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 5000

type Client = RedisClientType

/**
 * A sink that appends each batch to a Redis stream for `routemeter agent` to publish. Never blocks or
 * throws into the app: while Redis is unreachable batches wait in a bounded backlog, one warning is given
 * per outage, and the backlog is delivered once Redis is back (backlog drops reported as the counter
 * `routemeter.dropped.backlog`). Uses node-redis (`redis`), loaded on first send.
 *
 * @example
 * import http from 'node:http'
 * import { withMetrics, redisSink } from 'routemeter'
 * const sink = redisSink({ url: 'rediss://:secret@cache.internal:6380', stream: 'routemeter', maxLen: 50_000 })
 * http.createServer(withMetrics(app, { sink })).listen(3000)
 * process.on('SIGTERM', () => sink.close())
 */
export function redisSink(options: RedisSinkOptions = {}): RedisSink {
  const o = optionsObject('redisSink', options)
  const check = optionChecks('redisSink')
  const url = resolveRedisTarget(o.url, 'url', 'redisSink')
  const stream = check.string('stream', o.stream, 'routemeter')
  const maxLen = check.integer('maxLen', o.maxLen, 10_000, 0, Number.MAX_SAFE_INTEGER)
  const maxBacklog = check.integer('maxBacklog', o.maxBacklog, 100_000, 0, Number.MAX_SAFE_INTEGER)
  // 256 bytes hold a drop report with neither dimensions nor prefix, the one entry that must always fit.
  const maxEntryBytes = check.integer('maxEntryBytes', o.maxEntryBytes, DEFAULT_MAX_ENTRY_BYTES, 256, Number.MAX_SAFE_INTEGER)
  const flushTimeoutMs = check.integer('flushTimeoutMs', o.flushTimeoutMs, 5000, 0, Number.MAX_SAFE_INTEGER)
  const connectTimeoutMs = check.integer('connectTimeoutMs', o.connectTimeoutMs, 2000, 0, Number.MAX_SAFE_INTEGER)
  const onError: ErrorHandler = check.func<ErrorHandler>('onError', o.onError, 'a function (error) => void') ?? warningHandler('RM_REDIS')
  const encoding = check.oneOf('encoding', o.encoding, 2, [1, 2] as const)
  const encodeOptions = { version: encoding }
  // Trim arguments are built once; the per-entry XADD only adds the three fields.
  const trim = maxLen > 0 ? { TRIM: { strategy: 'MAXLEN' as const, strategyModifier: '~' as const, threshold: maxLen } } : undefined

  const backlog = new Backlog(maxBacklog)
  let state: RedisSinkStats['state'] = 'idle'
  let client: Client | undefined
  let inFlight = 0
  let attempt = 0
  let reconnectTimer: NodeJS.Timeout | undefined
  let warnedThisOutage = false
  let delivered = 0
  let entriesDelivered = 0
  let droppedBacklog = 0
  let droppedOversize = 0
  let droppedClose = 0
  let outages = 0
  // Drops are reported with the dimensions and prefix of the app's own records, so they land beside its series.
  let lastDimensions: Readonly<Record<string, string>> = {}
  let lastPrefix = ''
  let waiters: Array<() => void> = []
  let closing: Promise<void> | undefined

  const report = (message: string): void => {
    try { onError(new Error(`redisSink: ${url.redact(message)}`)) } catch { /* the hook must not break us */ }
  }

  const settleWaiters = (): void => {
    if (inFlight > 0 || (backlog.entries > 0 && (state === 'up' || state === 'connecting'))) return
    const ready = waiters
    waiters = []
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
  let pendingDropReport = 0
  let lastDropWarning = -Infinity

  /**
   * Sends the count of dropped records as a `process` record, straight to Redis rather than through the
   * backlog: in the backlog it could itself be trimmed, taking the count with it. On failure the count
   * goes back to pending and is sent after the reconnect.
   */
  const sendDropReport = (c: Client): void => {
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
      report(`${count} records were dropped: the backlog (maxBacklog ${maxBacklog}) was full while Redis was unreachable or slower than the app (counter ${DROPPED_BACKLOG_COUNTER})`)
    }
    // Borrowed dimensions can make the record larger than maxEntryBytes (an app's first record of a batch
    // with long ones): then it goes without them, and without the prefix if need be, rather than not at all.
    // With no dimensions and no prefix it fits the smallest maxEntryBytes (256).
    const entry = encodeBatch([record], maxEntryBytes, encodeOptions).entries[0] ??
      encodeBatch([{ ...record, dimensions: {} }], maxEntryBytes, encodeOptions).entries[0] ??
      encodeBatch([{ ...record, dimensions: {}, prefix: '' }], maxEntryBytes, encodeOptions).entries[0]
    if (entry === undefined) return
    inFlight++
    c.xAdd(stream, '*', { v: entry.v, n: String(entry.n), p: entry.p }, trim).then(
      () => { inFlight--; entriesDelivered++; pump(); settleWaiters() },
      (error: unknown) => { inFlight--; pendingDropReport += count; lost(c, error); settleWaiters() },
    )
  }

  const lost = (from: Client, error: unknown): void => {
    if (from !== client || state === 'closed') return
    client = undefined
    state = 'down'
    try { from.destroy() } catch { /* already gone */ }
    if (!warnedThisOutage) {
      warnedThisOutage = true
      outages++
      report(`Redis at ${url.safe} is unreachable (${describe(error)}); keeping up to ${maxBacklog} records and retrying`)
    }
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** attempt++) * (0.8 + Math.random() * 0.4)
    reconnectTimer = setTimeout(connect, delay)
    reconnectTimer.unref()
    settleWaiters()
  }

  const connect = (): void => {
    reconnectTimer = undefined
    if (state === 'closed') return
    state = 'connecting'
    void (async () => {
      let next: Client | undefined
      try {
        next = await url.create({ disableOfflineQueue: true, reconnect: false, connectTimeoutMs })
        if ((state as string) === 'closed') return
        client = next
        const mine = next
        mine.on('error', (error: unknown) => lost(mine, error))
        mine.on('end', () => lost(mine, new Error('connection closed')))
        // Standalone clients can unref their socket; Cluster and Sentinel clients cannot (documented).
        if (typeof mine.unref === 'function') mine.unref()
        await mine.connect()
        if (client !== mine || (state as string) === 'closed') { try { mine.destroy() } catch { /* closed */ } return }
        state = 'up'
        attempt = 0
        warnedThisOutage = false
        pump()
      } catch (error) {
        if (next !== undefined && client === next) lost(next, error)
        else if (next === undefined && state === 'connecting') { client = undefined; state = 'down'; report(`cannot load the redis client (${describe(error)}); install the \`redis\` package`) }
      }
    })()
  }

  const pump = (): void => {
    if (state !== 'up' || client === undefined) {
      if (state === 'idle') connect()
      return
    }
    const c = client
    // Drops that happened while connected (a burst bigger than the backlog) are reported right away.
    sendDropReport(c)
    while (inFlight < MAX_IN_FLIGHT && backlog.entries > 0) {
      const entry = backlog.shift() as EncodedEntry
      inFlight++
      c.xAdd(stream, '*', { v: entry.v, n: String(entry.n), p: entry.p }, trim).then(
        () => {
          inFlight--
          delivered += entry.n
          entriesDelivered++
          pump()
          settleWaiters()
        },
        (error: unknown) => {
          inFlight--
          // At-least-once: the entry goes back in front. If Redis applied the XADD but the reply was lost
          // with the connection, the agent will see it twice (documented in docs/deploying.md).
          backlog.unshift(entry)
          noteDrops()
          lost(c, error)
          settleWaiters()
        },
      )
    }
  }

  const send = (batch: MetricRecord[]): void => {
    let queued = false
    try {
      if (batch.length === 0) return
      if (state === 'closed') { droppedClose += batch.length; countDrop('close', batch.length); return }
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
      report(`send failed${queued ? '' : `; ${batch.length} records dropped (counted: sink)`}: ${describe(error)}`)
    }
  }

  const flush = async (): Promise<void> => {
    if (state === 'closed' && closing === undefined) return
    // During an outage, one delivery attempt now instead of at the next backoff tick: a flush before exit
    // should not lose a backlog to a Redis that came back a second ago.
    if (state === 'down' && backlog.entries > 0) {
      if (reconnectTimer !== undefined) clearTimeout(reconnectTimer)
      connect()
    }
    pump()
    if (inFlight === 0 && (backlog.entries === 0 || state === 'down' || state === 'idle')) return
    await new Promise<void>((resolve) => {
      // Deliberately ref'd: whoever awaits flush() or close() (a SIGTERM handler after server.close()) wants
      // the data out, and with an unref'd socket nothing else may keep the process alive until it is. Bounded
      // by flushTimeoutMs; when nobody waits, nothing is ref'd.
      const timer = setTimeout(resolve, flushTimeoutMs)
      waiters.push(() => { clearTimeout(timer); resolve() })
    })
  }

  const sink: RedisSink = {
    send,
    flush,
    close() {
      closing ??= (async () => {
        await flush()
        const left = backlog.clear()
        if (left > 0) {
          droppedClose += left
          countDrop('close', left)
          report(`closed with ${left} records not delivered to Redis at ${url.safe}; counted as dropped ('close')`)
        }
        state = 'closed'
        if (reconnectTimer !== undefined) clearTimeout(reconnectTimer)
        const c = client
        client = undefined
        if (c !== undefined) {
          const timer = setTimeout(() => { try { c.destroy() } catch { /* closed */ } }, 1000)
          timer.unref()
          try { await c.close() } catch { /* already closed */ }
          clearTimeout(timer)
        }
        settleWaiters()
      })()
      return closing
    },
    stats: () => ({
      state, delivered, entries: entriesDelivered, backlog: backlog.records, droppedBacklog, droppedOversize, droppedClose, outages,
    }),
  }
  return sink
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name
  return String(error)
}
