/**
 * `redisSink`: each batch becomes one Redis stream entry (`XADD <stream> MAXLEN ~ <maxLen> * v 2 n <count>
 * p <payload> s <host:pid>`), read later by `routemeter agent` (and `routemeter top`).
 *
 * ```
 * send(batch) ─► redis-delivery.ts ─────────── XADD ───────────► redis-connection.ts ─► redis-socket.ts ─► Redis
 *                encode, Backlog, ≤ 32 in flight,  ◄── wake() ──   one client; up/down;      (one server) or
 *                failed XADDs back in front                       one warning an outage;    redis-client-writer.ts
 *                                                                 reconnect with backoff    (Cluster, Sentinel)
 * ```
 *
 * This file reads the options once and wires the parts: the delivery asks the connection for its state and
 * hands it each XADD; the connection wakes the delivery when it comes up or goes down, and makes its clients
 * with the writer that suits the URL.
 */
import { hostname } from 'node:os'
import type { ErrorHandler, Sink } from './sink.js'
import { DEFAULT_MAX_ENTRY_BYTES } from '../wire/stream-encoding.js'
import { redisConnection } from './redis-connection.js'
import { clientWriter } from './redis-client-writer.js'
import { socketWriter } from './redis-socket.js'
import { redisDelivery, type RedisDelivery } from './redis-delivery.js'
import { resolveRedisTarget } from '../redis/target.js'
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
  /**
   * A reply from Redis later than this many ms ends the connection, which reconnects and sends the entry again
   * (a Redis that stopped answering). 0: wait for ever. Default 5,000. One server only: node-redis applies its
   * own 5 s to Cluster and Sentinel.
   */
  commandTimeoutMs?: number
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
 * A sink that appends each batch to a Redis stream for `routemeter agent` to publish. Never blocks or
 * throws into the app: while Redis is unreachable batches wait in a bounded backlog, one warning is given
 * per outage, and the backlog is delivered once Redis is back (backlog drops reported as the counter
 * `routemeter.dropped.backlog`). One server is written to on a socket of the sink's own; Cluster and Sentinel
 * through node-redis (`redis`), loaded on first send.
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
  const commandTimeoutMs = check.integer('commandTimeoutMs', o.commandTimeoutMs, 5000, 0, 2 ** 31 - 1)
  const onError: ErrorHandler = check.func<ErrorHandler>('onError', o.onError, 'a function (error) => void') ?? warningHandler('RM_REDIS')
  const encoding = check.oneOf('encoding', o.encoding, 2, [1, 2] as const)
  // `s` names the producing process (host:pid), so a reader of the stream (`routemeter top`) can tell how many
  // apps write to it.
  const source = `${hostname()}:${process.pid}`
  const writer = { stream, maxLen, source, connectTimeoutMs }
  const report = (message: string): void => {
    try { onError(new Error(`redisSink: ${url.redact(message)}`)) } catch { /* the hook must not break us */ }
  }

  const connection = redisConnection({
    open: url.server === undefined ? clientWriter(url, writer) : socketWriter(url.server, { ...writer, commandTimeoutMs }),
    changed: () => { delivery.wake() },
    outage: (reason) => { report(`Redis at ${url.safe} is unreachable (${reason}); keeping up to ${maxBacklog} records and retrying`) },
    unavailable: (reason) => { report(`cannot load the redis client (${reason}); install the \`redis\` package`) },
  })
  const delivery: RedisDelivery = redisDelivery({
    connection,
    xadd: (entry) => connection.xadd(entry),
    maxBacklog, maxEntryBytes, encoding, flushTimeoutMs, destination: `Redis at ${url.safe}`, report,
  })

  return {
    send: delivery.send,
    flush: delivery.flush,
    close: delivery.close,
    stats: () => ({ state: connection.state, ...delivery.stats(), outages: connection.outages }),
  }
}
