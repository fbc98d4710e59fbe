/**
 * The Redis side of `routemeter top`: reads the stream into a {@link TopWindow} without taking anything from
 * the agents.
 *
 * ```
 * connect ─► TIME (the server's clock: entry ids are stamped by it)
 *   first time only: backfill ─ XREVRANGE <stream> + <window start> COUNT 100, newest first, pages until the
 *                    window start or 20,000 entries
 *   loop:  XREAD COUNT 100 BLOCK 1000 STREAMS <stream> <last id read> ─► decode ─► window
 *          every 2 s: XINFO GROUPS <stream> (the agents' lag), XLEN
 *   any failure ─► state 'reconnecting', a new connection after backoffDelay, reading on from the last id read
 * ```
 *
 * Why plain XREAD and not XREADGROUP: a consumer group hands each entry to one consumer, so a `top` joining the
 * agents' group would take entries from them (and leave them pending when it quits), and a group of its own
 * would be left behind in Redis by every `top` that ever ran, each holding a last-delivered id. XREAD only
 * looks: no group, no pending entries, no acks, and any number of `top`s beside the agents. The backfill makes
 * the first screen show the whole window at once instead of filling up over a minute.
 *
 * Why never `XREAD … $`: `$` means "entries after the newest one when the command arrives", so entries written
 * between two reads (or during a reconnect) would be skipped. The reader always names the last id it read, or
 * the id just before the window start when there was none.
 */
import type { RedisClientType } from 'redis'
import type { RedisTarget } from '../redis/target.js'
import { backoffDelay, sleep } from '../util/backoff.js'
import { decodeEntry, type DecodeOptions } from '../wire/stream-encoding.js'
import type { Snapshot, SortKey } from './snapshot.js'
import type { TopWindow } from './window.js'

/**
 * Entries per reply, in the backfill and the live read: an entry of 5,000 busy routes is ≈ 240 KB, so 100 of them
 * are a 24 MB reply (500 made the reader hold 120 MB at once), and a local round trip is ≈ 0.1 ms against
 * ≈ 10 ms to decode such an entry.
 */
const PAGE = 100

/**
 * Most entries the backfill reads: 20 processes flushing once a second fill 15 minutes (the longest window) with
 * 18,000. Beyond it the window starts partly empty and fills as it moves.
 *
 * @example
 * startTopReader({ target, stream, group, window, backfillLimit: DEFAULT_BACKFILL_LIMIT })
 */
export const DEFAULT_BACKFILL_LIMIT = 20_000

/** The window reads quantiles of RequestTime only; CpuTime and app timers by their count and sum. */
const DECODE: DecodeOptions = { sketches: new Set(['RequestTime']) }

/** How long XREAD waits for new entries: the loop comes round at least this often to refresh lag and length. */
const BLOCK_MS = 1000
const INFO_EVERY_MS = 2000

/** Options of {@link startTopReader} and {@link readTopOnce}. */
export interface TopReaderOptions {
  readonly target: RedisTarget
  readonly stream: string
  /** The agents' consumer group, for `lag` (default `routemeter`). */
  readonly group?: string
  readonly window: TopWindow
  /** Default {@link DEFAULT_BACKFILL_LIMIT}. */
  readonly backfillLimit?: number
  /** Per connection attempt (default 3000). */
  readonly connectTimeoutMs?: number
  /** Reconnect backoff bounds (defaults 200 and 2000 ms): a terminal view should come back soon after Redis does. */
  readonly retryMinMs?: number
  readonly retryMaxMs?: number
}

/** Counters of a reader, for tests and a status line. */
export interface TopReaderStats {
  /** Entries read (backfill and live), decodable or not. */
  readonly entries: number
  /** Entries that could not be decoded. */
  readonly unreadable: number
  /** Connections made (the first included). */
  readonly connections: number
}

/** A running reader. */
export interface TopReader {
  /** The window at this moment, with the reader's state, lag and stream length: what the screen draws. */
  snapshot(sort: SortKey, filter?: string): Snapshot
  /** Resolves once the backfill is done (rejects only when the reader is stopped first). */
  readonly ready: Promise<void>
  stats(): TopReaderStats
  /** Stops reading and closes the connection. Idempotent. */
  stop(): Promise<void>
}

interface StreamMessage { id: string, message: Record<string, string> }

/** What the reader knows about the stream, shared by the live loop and `--once`. */
class StreamState {
  state: Snapshot['state'] = 'connecting'
  lastError: string | undefined
  lag: number | undefined
  streamLength: number | undefined
  /** The server's clock minus ours, ms. */
  offset = 0
  /** The last id read, or undefined before the backfill. */
  lastId: string | undefined
  backfilled = false
  /** The oldest id the backfill has read, to go on from after a failure mid-backfill. */
  backfillCursor: string | undefined
  backfillRead = 0
  /** Whether the window has been told when the stream's data begins. */
  dataSinceKnown = false
  entries = 0
  unreadable = 0
  connections = 0

  constructor(private readonly options: TopReaderOptions) {}

  get group(): string { return this.options.group ?? 'routemeter' }

  now(): number { return Date.now() + this.offset }

  snapshot(sort: SortKey, filter?: string): Snapshot {
    return this.options.window.snapshot(this.now(), {
      sort, filter, state: this.state, stream: this.options.stream, lag: this.lag, streamLength: this.streamLength,
      lastError: this.lastError,
    })
  }

  async connect(): Promise<RedisClientType> {
    const { target, connectTimeoutMs = 3000 } = this.options
    // No reconnection inside node-redis and no offline queue: a lost connection fails the command waiting on it
    // at once, and the loop decides when to try again (and says 'reconnecting' meanwhile).
    const client = await target.create({ disableOfflineQueue: true, reconnect: false, connectTimeoutMs })
    client.on('error', () => { /* every failure also rejects the command in flight, which the loop handles */ })
    try {
      await client.connect()
    } catch (error) {
      client.destroy()
      throw error
    }
    this.connections++
    await this.readClock(client)
    return client
  }

  /** The server's clock, so the window's "now" is that of the ids it places (a laptop's clock may be off). */
  private async readClock(client: RedisClientType): Promise<void> {
    try {
      const before = Date.now()
      const [seconds, micros] = (await client.time()) as unknown as [string, string]
      const server = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
      if (Number.isFinite(server)) this.offset = server - Math.round((before + Date.now()) / 2)
    } catch { /* a Cluster client has no keyless TIME: our clock it is */ }
  }

  /** Reads the window's entries newest first, page by page; resumes where a failed attempt stopped. */
  async backfill(client: RedisClientType): Promise<void> {
    const { stream, window, backfillLimit = DEFAULT_BACKFILL_LIMIT } = this.options
    const start = `${window.startMs(this.now())}-0`
    while (!this.backfilled) {
      const end = this.backfillCursor === undefined ? '+' : before(this.backfillCursor)
      const count = Math.min(PAGE, backfillLimit - this.backfillRead)
      const page = count <= 0 || end === undefined ? [] : (await client.xRevRange(stream, end, start, { COUNT: count })) as StreamMessage[]
      if (this.lastId === undefined && page.length > 0) this.lastId = page[0].id
      await this.consumeAll(page, false)
      this.backfillRead += page.length
      if (page.length > 0) this.backfillCursor = page[page.length - 1].id
      if (page.length < count || count <= 0) this.backfilled = true
    }
    // Nothing in the window: read on from just before its start, so an entry written meanwhile is not missed.
    this.lastId ??= before(start) ?? '0-0'
    if (this.dataSinceKnown) return
    // Cut short by the limit, the window holds entries since the oldest read (add() told it of each): rates over that.
    if (this.backfillRead >= backfillLimit) { this.dataSinceKnown = true; return }
    // The oldest entry, however old: one older than the window means rates over the whole window.
    const oldest = (await client.xRange(stream, '-', '+', { COUNT: 1 })) as StreamMessage[]
    if (oldest.length > 0) this.dataBegins(oldest[0])
  }

  /** Tells the window when the stream's data begins: with its oldest entry. */
  private dataBegins(oldest: StreamMessage): void {
    let base: number | undefined
    try {
      base = decodeEntry(oldest.message.v, oldest.message.p, DECODE).baseTimestamp
    } catch { /* unreadable: the window takes its stamp less a flush interval */ }
    this.options.window.streamBegins(idTime(oldest.id), base, this.now())
    this.dataSinceKnown = true
  }

  /** The next entries after the last id read, waiting up to BLOCK_MS for some. */
  async readNext(client: RedisClientType): Promise<void> {
    const { stream, window } = this.options
    // After an outage longer than the window, skip straight to the window: what is older would be left out anyway.
    const floor = before(`${window.startMs(this.now())}-0`)
    const from = floor !== undefined && compareIds(floor, this.lastId as string) > 0 ? floor : this.lastId as string
    const reply = await client.xRead({ key: stream, id: from }, { COUNT: PAGE, BLOCK: BLOCK_MS })
    const messages = (reply as unknown as Array<{ messages: StreamMessage[] }> | null)?.[0]?.messages ?? []
    await this.consumeAll(messages, true)
  }

  /** The agents' lag (XINFO GROUPS) and the stream's length (XLEN). */
  async refreshInfo(client: RedisClientType): Promise<void> {
    const { stream } = this.options
    this.streamLength = await client.xLen(stream)
    let lag: number | undefined
    try {
      for (const g of (await client.xInfoGroups(stream)) as unknown as Array<Record<string, unknown>>) {
        // `lag` is Redis 7.0+, and null when Redis cannot tell (after an XDEL or a trim past the group's position).
        if (g.name === this.group && typeof g.lag === 'number') lag = g.lag
      }
    } catch { /* no stream yet: no group, no lag */ }
    this.lag = lag
  }

  /**
   * Adds a reply's entries to the window (`live`: and moves the last id read along). Yields to the event loop every
   * 50 ms: 100 entries of 5,000 routes each take ≈ 1.4 s to decode and add, and the screen's timer and keys must
   * not wait that long.
   */
  private async consumeAll(messages: readonly StreamMessage[], live: boolean): Promise<void> {
    let since = performance.now()
    for (const m of messages) {
      // A stream that was empty when the backfill looked begins with the first entry read live, which add() tells
      // the window of: no need to ask Redis again after a reconnect.
      if (live) this.dataSinceKnown = true
      this.consume(m)
      if (live) this.lastId = m.id
      if (performance.now() - since < 50) continue
      await new Promise((resolve) => setImmediate(resolve))
      since = performance.now()
    }
  }

  private consume(m: StreamMessage): void {
    const { window } = this.options
    const time = idTime(m.id)
    this.entries++
    const now = this.now()
    try {
      window.add(time, decodeEntry(m.message.v, m.message.p, DECODE), m.message.s, now)
    } catch {
      // Garbage, or an entry from a newer routemeter: counted and shown as such, never a crash of the view.
      this.unreadable++
      window.addUnreadable(time, now)
    }
  }

  stats(): TopReaderStats {
    return { entries: this.entries, unreadable: this.unreadable, connections: this.connections }
  }
}

/**
 * Starts reading `stream` into `window` in the background: backfills the window, then follows the stream until
 * stopped, reconnecting (with backoff) whenever Redis goes away, and never reading an entry twice. Problems show
 * in the snapshot (`state`, `lastError`); nothing is thrown.
 *
 * @example
 * const window = new TopWindow({ windowMs: 60_000 })
 * const reader = startTopReader({ target: resolveRedisTarget(url, 'redis'), stream: 'routemeter', window })
 * setInterval(() => draw(reader.snapshot('rps')), 1000)
 */
export function startTopReader(options: TopReaderOptions): TopReader {
  const { target, retryMinMs = 200, retryMaxMs = 2000 } = options
  const s = new StreamState(options)
  const stopSignal = new AbortController()
  let stopping = false
  let client: RedisClientType | undefined
  let readyResolve: () => void = () => {}
  let readyReject: (error: Error) => void = () => {}
  const ready = new Promise<void>((resolve, reject) => { readyResolve = resolve; readyReject = reject })
  ready.catch(() => {})

  const loop = async (): Promise<void> => {
    let attempt = 0
    while (!stopping) {
      try {
        client = await s.connect()
        if (stopping) break
        await s.backfill(client)
        await s.refreshInfo(client)
        s.state = 'up'
        s.lastError = undefined
        readyResolve()
        attempt = 0
        let infoAt = Date.now() + INFO_EVERY_MS
        while (!stopping) {
          await s.readNext(client)
          if (Date.now() >= infoAt) {
            await s.refreshInfo(client)
            infoAt = Date.now() + INFO_EVERY_MS
          }
        }
      } catch (error) {
        if (stopping) break
        // Redacted before the cut: a password cut in half is no longer recognisable.
        s.lastError = target.redact(error instanceof Error ? error.message : String(error)).slice(0, 300)
        if (s.state === 'up') s.state = 'reconnecting'
        try { client?.destroy() } catch { /* already closed */ }
        client = undefined
        await sleep(backoffDelay(attempt++, retryMinMs, retryMaxMs), stopSignal.signal)
      }
    }
  }
  const running = loop()

  let stopped: Promise<void> | undefined
  return {
    ready,
    snapshot: (sort, filter) => s.snapshot(sort, filter),
    stats: () => s.stats(),
    stop() {
      stopped ??= (async () => {
        stopping = true
        stopSignal.abort()
        readyReject(new Error('top reader stopped before its backfill was done'))
        // destroy, not close: close() would wait for the XREAD blocked on the connection.
        try { client?.destroy() } catch { /* already closed */ }
        await running
      })()
      return stopped
    },
  }
}

/**
 * One look: connects, backfills the window, reads the lag and length, and returns the snapshot; for
 * `routemeter top --once`. Rejects (password masked) when Redis cannot be reached or fails within `timeoutMs`.
 *
 * @example
 * const snapshot = await readTopOnce({ target, stream: 'routemeter', window: new TopWindow({ windowMs: 60_000 }) }, 'rps')
 */
export async function readTopOnce(options: TopReaderOptions & { timeoutMs?: number }, sort: SortKey): Promise<Snapshot> {
  const { target, timeoutMs = 5000 } = options
  const s = new StreamState({ ...options, connectTimeoutMs: Math.min(options.connectTimeoutMs ?? 3000, timeoutMs) })
  let client: RedisClientType | undefined
  let done = false
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
    timer.unref()
  })
  const look = async (): Promise<Snapshot> => {
    client = await s.connect()
    // Connected after the deadline: nobody waits for this connection, and an open one would hold the process.
    if (done) client.destroy()
    await s.backfill(client)
    await s.refreshInfo(client)
    s.state = 'up'
    return s.snapshot(sort)
  }
  try {
    return await Promise.race([look(), deadline])
  } catch (error) {
    throw new Error(target.redact(error instanceof Error ? error.message : String(error)), { cause: error })
  } finally {
    done = true
    clearTimeout(timer)
    try { client?.destroy() } catch { /* already closed */ }
  }
}

/** The milliseconds of a stream id (`<ms>-<seq>`). */
function idTime(id: string): number {
  const dash = id.indexOf('-')
  return Number(dash === -1 ? id : id.slice(0, dash))
}

/** The id just before `id`, or undefined before `0-0`. Written out (not `(id`) so Redis before 6.2 reads it too. */
function before(id: string): string | undefined {
  const [ms, seq] = splitId(id)
  if (seq > 0n) return `${ms}-${seq - 1n}`
  if (ms > 0n) return `${ms - 1n}-18446744073709551615`
  return undefined
}

function compareIds(a: string, b: string): number {
  const [am, as] = splitId(a)
  const [bm, bs] = splitId(b)
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1
}

function splitId(id: string): [bigint, bigint] {
  const dash = id.indexOf('-')
  return dash === -1 ? [BigInt(id), 0n] : [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))]
}
