/**
 * The Redis sink's connection: one node-redis client at a time, opened on first use, replaced after a failure.
 *
 * ```
 * idle ──open()──► connecting ──connected──► up ──error / end / a failed command──► down ──backoff 100 ms…5 s──► connecting
 *                      └──────────────── failed ────────────────────────────────────┘  └──open(): at once──────► connecting
 * any ──close()──► closed
 * ```
 *
 * Why the sink owns reconnection instead of node-redis: node-redis' offline queue is unbounded and its
 * reconnect sleep is a ref'd timer (it would hold the app open while Redis is away). With
 * `disableOfflineQueue` and `reconnectStrategy: false` every byte waiting for Redis sits in the sink's bounded
 * Backlog, and every timer and socket here is unref'd.
 */
import type { RedisClientType } from 'redis'
import type { RedisTarget } from '../redis/target.js'
import { backoffDelay } from '../util/backoff.js'

/** Where the connection is: `idle` (never opened), `connecting`, `up`, `down` (waiting to reconnect), `closed`. */
export type ConnectionState = 'idle' | 'connecting' | 'up' | 'down' | 'closed'

/** What {@link redisConnection} needs. */
export interface ConnectionOptions {
  readonly target: RedisTarget
  readonly connectTimeoutMs: number
  /** The connection came up or went down: deliver, or release whoever waits for delivery. */
  readonly changed: (state: ConnectionState) => void
  /** The first failure of an outage (once until a connection succeeds again), with what went wrong. */
  readonly outage: (reason: string) => void
  /** The `redis` package could not be loaded: nothing is retried until `open()`. */
  readonly unavailable: (reason: string) => void
}

/** One Redis connection that reconnects by itself. */
export interface RedisConnection {
  readonly state: ConnectionState
  /** Outages seen (each reported once through `outage`). */
  readonly outages: number
  /** Connects now: from `idle`, or from `down` without waiting for the backoff timer. Otherwise nothing. */
  open(): void
  /**
   * Runs `command` on the client while `up`. A rejection ends that client (the connection goes `down` and
   * reconnects), then rejects the returned promise as well; a rejection while not `up` changes nothing.
   */
  run(command: (client: RedisClientType) => Promise<unknown>): Promise<void>
  /** Closes the client (destroyed after 1 s if it does not close) and stops reconnecting. */
  close(): Promise<void>
}

const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 5000

/**
 * A connection to `options.target` for the sink: no offline queue, no reconnection by node-redis, unref'd.
 *
 * @example
 * const connection = redisConnection({ target, connectTimeoutMs: 2000, changed: () => delivery.wake(), outage: warn, unavailable: warn })
 * connection.open()
 * await connection.run((client) => client.xAdd('routemeter', '*', fields))
 */
export function redisConnection(options: ConnectionOptions): RedisConnection {
  const { target, connectTimeoutMs, changed, outage, unavailable } = options
  let state: ConnectionState = 'idle'
  let client: RedisClientType | undefined
  let attempt = 0
  let reconnectTimer: NodeJS.Timeout | undefined
  let warnedThisOutage = false
  let outages = 0

  const lost = (from: RedisClientType, error: unknown): void => {
    if (from !== client || state === 'closed') return
    client = undefined
    state = 'down'
    try { from.destroy() } catch { /* already gone */ }
    if (!warnedThisOutage) {
      warnedThisOutage = true
      outages++
      outage(errorReason(error))
    }
    reconnectTimer = setTimeout(connect, backoffDelay(attempt++, RECONNECT_MIN_MS, RECONNECT_MAX_MS))
    reconnectTimer.unref()
    changed('down')
  }

  const connect = (): void => {
    reconnectTimer = undefined
    if (state === 'closed') return
    state = 'connecting'
    void (async () => {
      let next: RedisClientType | undefined
      try {
        next = await target.create({ disableOfflineQueue: true, reconnect: false, connectTimeoutMs })
        if ((state as ConnectionState) === 'closed') return
        client = next
        const mine = next
        mine.on('error', (error: unknown) => lost(mine, error))
        mine.on('end', () => lost(mine, new Error('connection closed')))
        // Standalone clients can unref their socket; Cluster and Sentinel clients cannot (documented).
        if (typeof mine.unref === 'function') mine.unref()
        await mine.connect()
        if (client !== mine || (state as ConnectionState) === 'closed') { try { mine.destroy() } catch { /* closed */ } return }
        state = 'up'
        attempt = 0
        warnedThisOutage = false
        changed('up')
      } catch (error) {
        if (next !== undefined && client === next) lost(next, error)
        else if (next === undefined && state === 'connecting') {
          client = undefined
          state = 'down'
          unavailable(errorReason(error))
          changed('down')
        }
      }
    })()
  }

  return {
    get state() { return state },
    get outages() { return outages },
    open() {
      if (state !== 'idle' && state !== 'down') return
      if (reconnectTimer !== undefined) clearTimeout(reconnectTimer)
      connect()
    },
    run(command) {
      const c = client
      if (state !== 'up' || c === undefined) return Promise.reject(new Error(`not connected (${state})`))
      let result: Promise<unknown>
      try { result = command(c) } catch (error) { result = Promise.reject(error) }
      return result.then(() => {}, (error: unknown) => { lost(c, error); throw error })
    },
    async close() {
      state = 'closed'
      if (reconnectTimer !== undefined) clearTimeout(reconnectTimer)
      const c = client
      client = undefined
      if (c === undefined) return
      const timer = setTimeout(() => { try { c.destroy() } catch { /* closed */ } }, 1000)
      timer.unref()
      try { await c.close() } catch { /* already closed */ }
      clearTimeout(timer)
    },
  }
}

/**
 * What went wrong, for a warning: an Error's message (or name), anything else as a string.
 *
 * @example
 * errorReason(new Error('connect ECONNREFUSED 127.0.0.1:6379')) // 'connect ECONNREFUSED 127.0.0.1:6379'
 */
export function errorReason(error: unknown): string {
  if (error instanceof Error) return error.message || error.name
  return String(error)
}
