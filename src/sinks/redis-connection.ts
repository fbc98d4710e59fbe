/**
 * The Redis sink's connection: one client at a time, opened on first use, replaced after a failure.
 *
 * ```
 * idle ──open()──► connecting ──connected──► up ──error / end / a failed command──► down ──backoff 100 ms…5 s──► connecting
 *                      └──────────────── failed ────────────────────────────────────┘  └──open(): at once──────► connecting
 * any ──close()──► closed
 * ```
 *
 * An outage (one warning, a backoff that grows) lasts until Redis takes an XADD again, not until a connect.
 *
 * The client is a {@link StreamWriter}: the sink's own socket for one server (`redis-socket.ts`), node-redis
 * for Cluster and Sentinel (`redis-client-writer.ts`). Either way the sink owns reconnection: node-redis' offline
 * queue is unbounded and its reconnect sleep is a ref'd timer (it would hold the app open while Redis is away).
 * Every byte waiting for Redis sits in the sink's bounded Backlog, and every timer and socket here is unref'd.
 */
import type { EncodedEntry } from '../wire/stream-encoding.js'
import { backoffDelay } from '../util/backoff.js'

/** Where the connection is: `idle` (never opened), `connecting`, `up`, `down` (waiting to reconnect), `closed`. */
export type ConnectionState = 'idle' | 'connecting' | 'up' | 'down' | 'closed'

/** One connection's client, as the sink uses it: connect once, append entries, close. */
export interface StreamWriter {
  /** Resolves once the server has answered on the new connection (its AUTH and SELECT, if any, accepted). */
  connect(): Promise<void>
  /** Appends one entry to the sink's stream. */
  xadd(entry: EncodedEntry): Promise<void>
  /** Ends the connection once the commands in flight are answered. */
  close(): Promise<void>
  /** The same, without holding the process open meanwhile and without waiting for it. */
  end(): void
  /** Ends the connection now. */
  destroy(): void
}

/** What every writer's XADDs say besides each entry's fields, and how long it waits to connect. */
export interface WriterOptions {
  readonly stream: string
  /** `MAXLEN ~ maxLen`; 0: no trimming. */
  readonly maxLen: number
  /** The `s` field: who writes (`host:pid`). */
  readonly source: string
  readonly connectTimeoutMs: number
}

/**
 * A new, unref'd client, not yet usable; `lost` hears of a failure after `connect()` resolved. Rejects only when
 * no client can be made at all (the `redis` package cannot be loaded).
 */
export type WriterFactory = (lost: (error: unknown) => void) => Promise<StreamWriter>

/** What {@link redisConnection} needs. */
export interface ConnectionOptions {
  readonly open: WriterFactory
  /** The connection came up or went down: deliver, or release whoever waits for delivery. */
  readonly changed: (state: ConnectionState) => void
  /** The first failure of an outage (once until Redis takes an XADD again), with what went wrong. */
  readonly outage: (reason: string) => void
  /** No client could be made (the `redis` package could not be loaded): nothing is retried until `open()`. */
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
   * Appends `entry` while `up`. A rejection ends that client (the connection goes `down` and reconnects), then
   * rejects the returned promise as well; while not `up` it rejects and changes nothing.
   */
  xadd(entry: EncodedEntry): Promise<void>
  /**
   * Stops reconnecting and closes the client once the commands in flight are answered, destroying it after
   * `graceMs` (default 1000) if it has not closed by then; at once, failing every command in flight, for 0.
   */
  close(graceMs?: number): Promise<void>
}

const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 5000
/** How long a client that is ending may wait for the replies in flight before it is destroyed. */
const GRACE_MS = 1000

/**
 * A connection through the clients `options.open` makes, reconnecting with backoff, unref'd.
 *
 * @example
 * const connection = redisConnection({ open: socketWriter(server, writerOptions), changed: () => delivery.wake(),
 *   outage: warn, unavailable: warn })
 * connection.open()
 * await connection.xadd(entry)
 */
export function redisConnection(options: ConnectionOptions): RedisConnection {
  const { open, changed, outage, unavailable } = options
  let state: ConnectionState = 'idle'
  let client: StreamWriter | undefined
  let attempt = 0
  let reconnectTimer: NodeJS.Timeout | undefined
  let warnedThisOutage = false
  let outages = 0
  /** Clients ending after an error reply, their last replies still to come (see `lost`); `close(0)` ends them too. */
  const ending = new Set<StreamWriter>()
  const retire = (c: StreamWriter): void => {
    ending.delete(c)
    destroyQuietly(c)
  }

  /**
   * `from` failed: the connection goes down and reconnects after a backoff. `answered`: Redis refused a command
   * (an error reply), so the connection itself still works and the replies of the XADDs sent after that one are
   * on their way: it ends once they are in (1 s at most). Destroyed at once instead, their XADDs failed, and those
   * Redis had applied were sent again (8 duplicates of 11 records after one -OOM, replies arriving a byte at a time).
   */
  const lost = (from: StreamWriter | undefined, error: unknown, answered = false): void => {
    if (from === undefined || from !== client || state === 'closed') return
    client = undefined
    state = 'down'
    if (answered) {
      try { from.end() } catch { /* already gone */ }
      ending.add(from)
      setTimeout(() => { retire(from) }, GRACE_MS).unref()
    } else {
      destroyQuietly(from)
    }
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
      let next: StreamWriter | undefined
      // A destroy() below that throws lands in the catch, which ignores a client that is no longer the current one.
      try {
        next = await open((error) => lost(next, error))
        if ((state as ConnectionState) === 'closed') { next.destroy(); return }
        client = next
        const mine = next
        await mine.connect()
        if (client !== mine || (state as ConnectionState) === 'closed') { mine.destroy(); return }
        state = 'up'
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
    xadd(entry) {
      const c = client
      if (state !== 'up' || c === undefined) return Promise.reject(new Error(`not connected (${state})`))
      let result: Promise<void>
      try { result = c.xadd(entry) } catch (error) { result = Promise.reject(error) }
      // The outage ends at the first XADD Redis takes, not at the connect: a Redis that accepts connections but
      // refuses the XADD (WRONGTYPE, OOM, a read-only replica) is one outage, warned about once and retried
      // with a growing backoff, not every 100 ms.
      // A connection that failed told `lost` already (through the writer), so reaching it here first means Redis
      // answered this XADD with an error.
      return result.then(() => { attempt = 0; warnedThisOutage = false }, (error: unknown) => { lost(c, error, true); throw error })
    },
    async close(graceMs = GRACE_MS) {
      state = 'closed'
      if (reconnectTimer !== undefined) clearTimeout(reconnectTimer)
      const c = client
      client = undefined
      // A client still ending after an error reply holds XADDs too: given up on with the current one. Left to its
      // own second, they failed after close() had resolved (1 of 5 counted by then, the rest 1.2 s later).
      if (graceMs === 0) for (const old of [...ending]) retire(old)
      if (c === undefined) return
      if (graceMs === 0) {
        destroyQuietly(c)
        return
      }
      const timer = setTimeout(() => { destroyQuietly(c) }, graceMs)
      timer.unref()
      try { await c.close() } catch { /* already closed */ }
      clearTimeout(timer)
    },
  }
}

/** Ends `c` now; one already gone may throw, which changes nothing. */
function destroyQuietly(c: StreamWriter): void {
  try { c.destroy() } catch { /* already gone */ }
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
