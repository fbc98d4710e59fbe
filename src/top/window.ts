/**
 * The sliding window behind `routemeter top`: decoded stream entries in, a {@link Snapshot} out. No Redis and
 * no clock of its own (every call says what time it is), so a test feeds it entries at known times.
 *
 * ```
 * entry (id time, decoded batch, producer `s`) ─► slot ⌊id seconds / slotSeconds⌋ ─► per (route, method):
 *     its cell for that slot  += requests, Failure/ClientError/Aborted sums, CpuTime sum and count, RequestTime buckets
 *     its running window      += the same, its RequestTime sketch += the buckets; per-second counts for the sparkline
 * time passes ─► a slot older than the window expires: each route's cell is taken back out of its running window
 * snapshot ─► a row per route: rates over the window, p50/p99 read off the running sketch; filtered, sorted
 * ```
 *
 * Entries are placed by the time in their id (when Redis accepted the flush, ≈ 1 s after its requests), not by
 * when `top` read them: a backfill of the last minute and a live read land in the same slots, and a reader that
 * falls behind does not pile a burst onto one second.
 *
 * Per route, a cell per slot and a running sum of the live ones: see route-stats.ts.
 */
import { inRange } from '../wire/metric-rules.js'
import { Sketch } from '../wire/sketch.js'
import { toRecords, type DecodedBatch } from '../wire/stream-encoding.js'
import { COUNTERS, RouteStats, type Cell, type Counter } from './route-stats.js'
import type { RouteRow, Snapshot, SortKey } from './snapshot.js'

/**
 * Slots per window at most. A window up to 60 s has a slot per second; a longer one has 60 slots of
 * ⌈window / 60⌉ s (a 5 m window moves in 5 s steps), which bounds memory and the work of expiry per route.
 *
 * @example
 * windowShape(300_000) // { slotSeconds: 5, slots: 60, windowMs: 300_000, sparkSeconds: 30 }
 */
export const MAX_SLOTS = 60

/**
 * Routes (route × method) tracked at most; the requests of any further one are counted in one
 * {@link OTHER_ROUTES} row until tracked routes go idle for a whole window. Measured over a 1 m window fed 50,000
 * requests/s by 20 processes: 8,900 routes held 326 MB of heap (≈ 37 KB a route, most of it its 60 per-second
 * cells), 80 routes 35 MB; `node bench/top-cpu.mjs`: 10,000 routes, 547 MB resident, 80 routes 119 MB. So the cap
 * bounds `top` to ≈ 600 MB.
 *
 * @example
 * new TopWindow({ windowMs: 60_000, maxRoutes: DEFAULT_MAX_ROUTES })
 */
export const DEFAULT_MAX_ROUTES = 10_000

/**
 * The route name of the row that gathers the routes past `maxRoutes` (its method is `''`). Always sorted last.
 *
 * @example
 * snapshot.routes.find((r) => r.route === OTHER_ROUTES)?.requests
 */
export const OTHER_ROUTES = '(other routes)'

/** The apps' default `flushInterval`: how far back an entry's requests reach before its stamp, in the usual case. */
const DEFAULT_FLUSH_MS = 1000

/**
 * How far before its stamp an entry is taken to carry requests at most, for the stream's start: two default flush
 * intervals. An app flushing less often makes a young stream's rates read high until the window is full.
 *
 * @example
 * w.streamBegins(time, base, now) // the start is never before time − MAX_CARRY_MS
 */
export const MAX_CARRY_MS = 2 * DEFAULT_FLUSH_MS

/** The longest sparkline, in seconds. */
const SPARK_MAX = 30

/** How a window of a given length is cut. */
export interface WindowShape {
  /** Length of one slot, s. */
  readonly slotSeconds: number
  readonly slots: number
  /** `slots × slotSeconds` in ms: the asked length, rounded up to whole slots (61 s becomes 62 s). */
  readonly windowMs: number
  /**
   * Length of each row's `spark`: the last complete seconds before the current one, at most 30, and never
   * reaching before the window's oldest slot. The second in progress is left out: entries are stamped at
   * flush, so at 0.3 s into a second only the processes that flushed by then are in it, and the last bar
   * would always dip.
   */
  readonly sparkSeconds: number
}

/**
 * The slots and sparkline length of a window of `windowMs` (at least 2 s).
 *
 * @example
 * windowShape(10_000) // { slotSeconds: 1, slots: 10, windowMs: 10_000, sparkSeconds: 9 }
 */
export function windowShape(windowMs: number): WindowShape {
  const seconds = Math.max(2, Math.ceil(windowMs / 1000))
  const slotSeconds = Math.ceil(seconds / MAX_SLOTS)
  const slots = Math.ceil(seconds / slotSeconds)
  const total = slots * slotSeconds
  // The window's oldest slot starts between total - 1 and total - slotSeconds seconds before the current one.
  return { slotSeconds, slots, windowMs: total * 1000, sparkSeconds: Math.min(SPARK_MAX, total - slotSeconds) }
}

/** What {@link TopWindow.snapshot} adds from outside the window: the reader's state and the stream's. */
export interface SnapshotContext {
  readonly sort: SortKey
  /** Only routes whose name contains this text, ignoring case (the totals stay the whole window's); all when empty. */
  readonly filter?: string
  readonly state: Snapshot['state']
  readonly stream: string
  readonly lag?: number | undefined
  readonly streamLength?: number | undefined
  readonly lastError?: string | undefined
}

/** Options of {@link TopWindow}. */
export interface TopWindowOptions {
  /** Window length, ms (rounded up to whole slots, see {@link windowShape}). */
  readonly windowMs: number
  /** Default {@link DEFAULT_MAX_ROUTES}. */
  readonly maxRoutes?: number
}

/** One slot of the whole window: what is not per route. */
interface Slot {
  slot: number
  entries: number
  unreadable: number
  readonly routes: RouteStats[]
  readonly dropped: Map<string, number>
  readonly sources: Set<string>
}

const DROPPED = 'routemeter.dropped.'

/**
 * The window: add entries with {@link TopWindow.add}, read it with {@link TopWindow.snapshot}. Both take the
 * current time; it may only move forward (an earlier `now` is read as the latest one seen).
 *
 * @example
 * const w = new TopWindow({ windowMs: 60_000 })
 * w.add(entryTime, decodeEntry(fields.v, fields.p), fields.s, Date.now())
 * const snapshot = w.snapshot(Date.now(), { sort: 'rps', state: 'up', stream: 'routemeter' })
 */
export class TopWindow {
  readonly shape: WindowShape
  private readonly maxRoutes: number
  /** Route → method → its stats. Two levels, not one `method route` key: a route name from a decoded entry is one
   * string shared by its groups, hashed once, where a joined key was a new string per group (a third of the time
   * spent adding an entry of 2,000 routes). */
  private readonly routes = new Map<string, Map<string, RouteStats>>()
  private tracked = 0
  private other: RouteStats | undefined
  private readonly ring: Array<Slot | undefined>
  /** The current slot (−Infinity before the first call). */
  private current = -Infinity
  /** When the stream's data begins, ms: the earliest start {@link TopWindow.streamBegins} was told of. */
  private dataStart = Infinity

  constructor(options: TopWindowOptions) {
    this.shape = windowShape(options.windowMs)
    this.maxRoutes = Math.max(0, options.maxRoutes ?? DEFAULT_MAX_ROUTES)
    this.ring = new Array<Slot | undefined>(this.shape.slots).fill(undefined)
  }

  /** Routes tracked now (the {@link OTHER_ROUTES} row not included). */
  get routeCount(): number { return this.tracked }

  /**
   * The first millisecond the window holds at `now`: the start of its oldest slot. A backfill reads from here.
   *
   * @example
   * client.xRevRange(stream, '+', `${w.startMs(now)}-0`)
   */
  startMs(now: number): number {
    this.advance(now)
    return (this.current - this.shape.slots + 1) * this.shape.slotSeconds * 1000
  }

  /**
   * Says that the stream's data begins with an entry Redis stamped at `time` whose earliest record started at
   * `baseTimestamp` (undefined: the entry could not be decoded); the reader tells it of the stream's oldest entry,
   * `add` of each entry it counts. While that is inside the window, rates are divided by the time since it: a
   * `top` started 5 s after the app showed a fifth of the true rate over a 25 s window.
   *
   * An entry's requests began at most about a flush interval before its stamp, but its earliest record may be far
   * older: a process record's interval starts at the last one taken (minutes, for an app that rarely records
   * outside requests), a long request (SSE, an upload) starts when it did, and an app's clock may be behind. One
   * such entry made a 10 s old stream read as older than a 60 s window (15 req/s instead of 98), for good: so
   * the start is taken as at most {@link MAX_CARRY_MS} before the stamp, and never after it (nor after `now`).
   *
   * @example
   * w.streamBegins(idTime, decodeEntry(oldest.message.v, oldest.message.p).baseTimestamp, Date.now())
   */
  streamBegins(time: number, baseTimestamp: number | undefined, now: number): void {
    // A stamp ahead of our clock (Redis's TIME unread, on a Cluster) is read as now, as add() places it.
    const stamp = Math.min(time, now)
    const earliest = baseTimestamp !== undefined && baseTimestamp > 0 ? baseTimestamp : stamp - DEFAULT_FLUSH_MS
    const start = Math.max(stamp - MAX_CARRY_MS, Math.min(earliest, stamp))
    if (start < this.dataStart) this.dataStart = start
  }

  /**
   * Adds one decoded entry that Redis stamped at `time` (its id's milliseconds), produced by `source` (its `s`
   * field, `<host>:<pid>`, when the app writes one). An entry older than the window is left out; one stamped
   * after `now` (a clock ahead of ours) is counted as of `now`. Returns whether it was counted.
   *
   * @example
   * w.add(Number(id.slice(0, id.indexOf('-'))), batch, fields.s, Date.now())
   */
  add(time: number, batch: DecodedBatch, source: string | undefined, now: number): boolean {
    const at = this.place(time, now)
    if (at === undefined) return false
    const [slot, second] = at
    slot.entries++
    this.streamBegins(time, batch.baseTimestamp, now)
    if (source !== undefined) slot.sources.add(source)
    if (batch.version === 2) this.addSummaries(batch, slot, second)
    else this.addRecords(batch, slot, second)
    return true
  }

  /**
   * Counts an entry that could not be decoded (garbage, a newer schema) at `time`. Returns whether it was in
   * the window.
   *
   * @example
   * try { batch = decodeEntry(fields.v, fields.p) } catch { w.addUnreadable(time, Date.now()) }
   */
  addUnreadable(time: number, now: number): boolean {
    const at = this.place(time, now)
    if (at === undefined) return false
    at[0].entries++
    at[0].unreadable++
    return true
  }

  /**
   * The window as it stands at `now`, rows filtered and sorted as `context` says.
   *
   * @example
   * const s = w.snapshot(Date.now(), { sort: 'p99', filter: 'users', state: 'up', stream: 'routemeter', lag: 0 })
   */
  snapshot(now: number, context: SnapshotContext): Snapshot {
    this.advance(now)
    const { windowMs, sparkSeconds } = this.shape
    const { ratesOverMs, complete } = this.ratesOver(now)
    const seconds = ratesOverMs / 1000
    const current = this.current
    /** The requests the rates count (see ratesOver). */
    const counted = (r: RouteStats): number => (complete ? r.requests - r.requestsIn(current) : r.requests)
    let entries = 0
    let unreadable = 0
    const dropped: Record<string, number> = {}
    const sources = new Set<string>()
    for (const slot of this.ring) {
      if (slot === undefined) continue
      entries += slot.entries
      unreadable += slot.unreadable
      for (const [reason, n] of slot.dropped) dropped[reason] = (dropped[reason] ?? 0) + n
      for (const s of slot.sources) sources.add(s)
    }
    let requests = 0
    let countedRequests = 0
    let failure = 0
    let clientError = 0
    let aborted = 0
    let cpuMs = 0
    const all: RouteStats[] = []
    for (const methods of this.routes.values()) for (const r of methods.values()) all.push(r)
    if (this.other !== undefined) all.push(this.other)
    for (const r of all) {
      requests += r.requests
      countedRequests += counted(r)
      failure += r.failure
      clientError += r.clientError
      aborted += r.aborted
      cpuMs += r.cpuSum
    }
    const needle = (context.filter ?? '').toLowerCase()
    const nowSecond = Math.floor(now / 1000)
    const row = (r: RouteStats): RouteRow => ({
      route: r.route, method: r.method, requests: r.requests, rps: counted(r) / seconds,
      p50: r.time.count > 0 ? r.time.quantile(0.5) : undefined,
      p99: r.time.count > 0 ? r.time.quantile(0.99) : undefined,
      cpuMean: r.cpuCount > 0 ? r.cpuSum / r.cpuCount : undefined,
      cpuShare: cpuMs > 0 ? (r.cpuSum * 100) / cpuMs : 0,
      failurePct: percent(r.failure, r.requests), clientErrorPct: percent(r.clientError, r.requests),
      abortedPct: percent(r.aborted, r.requests), spark: r.sparkline(nowSecond, sparkSeconds),
    })
    const rows: RouteRow[] = []
    for (const r of all) if (!r.other && (needle === '' || r.route.toLowerCase().includes(needle))) rows.push(row(r))
    const by = ORDER[context.sort]
    rows.sort((a, b) => by(a, b) || compareNames(a, b))
    // The routes past the cap last, whatever the order: it is not a route, and its size says so.
    if (this.other !== undefined && (needle === '' || OTHER_ROUTES.includes(needle))) rows.push(row(this.other))
    return {
      at: now, windowMs, ratesOverMs, stream: context.stream, state: context.state, empty: entries === 0, entries,
      totals: {
        requests, rps: countedRequests / seconds, failurePct: percent(failure, requests), clientErrorPct: percent(clientError, requests),
        abortedPct: percent(aborted, requests), cpuMs,
      },
      processes: sources.size > 0 ? sources.size : undefined,
      lag: context.lag, streamLength: context.streamLength, dropped,
      routes: rows,
      sort: context.sort,
      ...(unreadable > 0 ? { unreadable } : {}),
      ...(context.lastError !== undefined && context.state !== 'up' ? { lastError: context.lastError } : {}),
    }
  }

  /**
   * What rates count at `now`. A stream older than the window: the requests of its complete slots over their
   * length, the slot in progress left out (it holds only the processes that have flushed in it so far; counting
   * it made a steady rate read up to a slot's worth low, 5 % on average over a 10 s window). Each slot's entries
   * carry a flush interval of requests each, so the rest is exact. A younger stream: every request over the
   * time since its first (at least a second); its newest requests, not flushed yet, make it read low by up to a
   * flush interval over the stream's age (a second over 10 s at the default).
   */
  private ratesOver(now: number): { ratesOverMs: number, complete: boolean } {
    const { slotSeconds, slots, windowMs } = this.shape
    const slotMs = slotSeconds * 1000
    const windowStart = (this.current - slots + 1) * slotMs
    if (this.dataStart <= windowStart) return { ratesOverMs: windowMs - slotMs, complete: true }
    const since = Number.isFinite(this.dataStart) ? this.dataStart : now
    return { ratesOverMs: Math.min(windowMs, Math.max(1000, now - since)), complete: false }
  }

  /** Moves the window to `now`: every slot now older than the window expires. */
  private advance(now: number): void {
    const { slotSeconds, slots } = this.shape
    const current = Math.floor(Math.floor(now / 1000) / slotSeconds)
    if (current <= this.current) return
    this.current = current
    const oldest = current - slots + 1
    for (let i = 0; i < slots; i++) {
      const slot = this.ring[i]
      if (slot !== undefined && slot.slot < oldest) this.expire(slot, i)
    }
  }

  /** The slot and second an entry stamped `time` counts in, or undefined when it is older than the window. */
  private place(time: number, now: number): [Slot, number] | undefined {
    this.advance(now)
    const { slotSeconds, slots } = this.shape
    const second = Math.min(Math.floor(time / 1000), Math.floor(now / 1000))
    const n = Math.min(Math.floor(second / slotSeconds), this.current)
    if (!(n > this.current - slots)) return undefined
    const i = n % slots
    let slot = this.ring[i]
    if (slot === undefined || slot.slot !== n) {
      // A slot there is older than the window (advance() took it out), so the place is free.
      slot = { slot: n, entries: 0, unreadable: 0, routes: [], dropped: new Map(), sources: new Set() }
      this.ring[i] = slot
    }
    return [slot, second]
  }

  private expire(slot: Slot, index: number): void {
    for (const r of slot.routes) {
      r.expire(slot.slot)
      if (r.live > 0) continue
      if (r.other) { this.other = undefined; continue }
      const methods = this.routes.get(r.route)
      if (methods?.delete(r.method) !== true) continue
      this.tracked--
      if (methods.size === 0) this.routes.delete(r.route)
    }
    this.ring[index] = undefined
  }

  /** The route's cell for `slot`, the route created (or the overflow row used) when new. */
  private cell(prefix: string, name: string, method: string, slot: Slot): Cell {
    const route = prefix === '' ? name : `${prefix}.${name}`
    let methods = this.routes.get(route)
    let r = methods?.get(method)
    if (r === undefined) {
      const { slots, sparkSeconds } = this.shape
      if (this.tracked < this.maxRoutes) {
        r = new RouteStats(route, method, false, slots, sparkSeconds)
        if (methods === undefined) { methods = new Map(); this.routes.set(route, methods) }
        methods.set(method, r)
        this.tracked++
      } else {
        r = this.other ??= new RouteStats(OTHER_ROUTES, '', true, slots, sparkSeconds)
      }
    }
    const live = r.live
    const cell = r.cell(slot.slot)
    if (r.live !== live) slot.routes.push(r)
    return cell
  }

  private addSummaries(batch: DecodedBatch, slot: Slot, second: number): void {
    const { groups, strings } = batch
    const cells = new Array<Cell | undefined>(groups.length)
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]
      if (group.kind !== 'request') continue
      const cell = this.cell(group.prefix, group.route, group.method, slot)
      cell.stats.addRequests(cell, group.records ?? 0, second)
      cells[g] = cell
    }
    // Names compared by their index in the entry's dictionary: one lookup per entry, not a string compare per metric.
    const requestTime = strings.indexOf('RequestTime')
    const cpuTime = strings.indexOf('CpuTime')
    const counters = new Map<number, Counter>()
    for (const [name, field] of COUNTERS) counters.set(strings.indexOf(name), field)
    for (const s of batch.summaries) {
      const cell = cells[s.group]
      if (cell === undefined) {
        const name = strings[s.name]
        if (s.type === 'counter' && name.startsWith(DROPPED)) addTo(slot.dropped, name.slice(DROPPED.length), s.sum)
        continue
      }
      const r = cell.stats
      if (s.type === 'counter') {
        const counter = counters.get(s.name)
        if (counter !== undefined) r.addCounter(cell, counter, s.sum)
      } else if (s.name === cpuTime) r.addCpu(cell, s.count, s.sum)
      else if (s.name === requestTime && s.sketch !== undefined) r.addTime(cell, s.sketch)
    }
  }

  /** A v=1 entry (from an app older than v=2): its records one by one, a sketch per route for RequestTime. */
  private addRecords(batch: DecodedBatch, slot: Slot, second: number): void {
    const times = new Map<RouteStats, [Cell, Sketch]>()
    for (const record of toRecords(batch)) {
      if (record.kind !== 'request') {
        for (const name in record.counters) {
          const n = record.counters[name]
          if (name.startsWith(DROPPED) && inRange(n)) addTo(slot.dropped, name.slice(DROPPED.length), n)
        }
        continue
      }
      const cell = this.cell(record.prefix, record.route, record.method, slot)
      const r = cell.stats
      r.addRequests(cell, 1, second)
      for (const name in record.counters) {
        const counter = COUNTERS.get(name)
        if (counter !== undefined && inRange(record.counters[name])) r.addCounter(cell, counter, record.counters[name])
      }
      const cpu = record.timers.CpuTime
      if (inRange(cpu)) r.addCpu(cell, 1, cpu)
      const time = record.timers.RequestTime
      if (!inRange(time)) continue
      let t = times.get(r)
      if (t === undefined) { t = [cell, new Sketch()]; times.set(r, t) }
      t[1].add(time)
    }
    for (const [r, [cell, sketch]] of times) r.addTime(cell, sketch)
  }
}

function addTo(map: Map<string, number>, name: string, n: number): void {
  map.set(name, (map.get(name) ?? 0) + n)
}

function percent(part: number, whole: number): number {
  // part × 100 / whole, not part / whole × 100: 7 of 100 is 7, where 7 / 100 × 100 is 7.000000000000001.
  return whole > 0 ? (part * 100) / whole : 0
}

const ORDER: Readonly<Record<SortKey, (a: RouteRow, b: RouteRow) => number>> = {
  rps: (a, b) => b.rps - a.rps,
  p99: (a, b) => descending(a.p99, b.p99),
  cpu: (a, b) => b.cpuShare - a.cpuShare,
  errors: (a, b) => b.failurePct - a.failurePct || b.clientErrorPct - a.clientErrorPct,
}

/** Descending, a route without the figure after every route with it. */
function descending(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1
  return b - a
}

function compareNames(a: RouteRow, b: RouteRow): number {
  return a.route < b.route ? -1 : a.route > b.route ? 1 : a.method < b.method ? -1 : a.method > b.method ? 1 : 0
}
