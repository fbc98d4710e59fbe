/**
 * One route (and method) in `top`'s window: a cell per slot of the window holding what that slot's entries
 * said, and the running sum of the live cells, which is what a snapshot reads.
 *
 * ```
 * entry ─► cell of its slot   += requests, Failure/ClientError/Aborted, CpuTime sum and count, RequestTime buckets
 *      └─► running window     += the same; running RequestTime sketch += the buckets; per-second request counts
 * slot expires ─► its cell leaves: its sums and buckets subtracted
 * ```
 *
 * Why a running sketch with buckets taken back out, not a sketch per slot merged at each snapshot: merging 60
 * slot sketches per route every second would walk 60 bucket spans (a few hundred buckets each) per route, on the
 * order of 10^8 additions a second for 10,000 routes; and a dense sketch per (route, slot) holds its whole span
 * (213 buckets, 1.7 KB, for values between 2 and 200 ms), 600,000 of them for 10,000 routes over 60 slots. A cell
 * keeps only the buckets it was given, as (bucket, count) pairs, and a snapshot reads one sketch per route. Bucket
 * counts are integers, so taking a cell out is exact: the window's quantiles are those of its live slots' merged
 * sketches (test/top/window.test.ts compares them with one sketch of every value).
 */
import { Sketch } from '../wire/sketch.js'

// A (bucket, sign) pair as one number: (index + offset) × 2 + negative. The indices of the values the door lets in
// lie within −1,280…1,595 (|value| in [2^-40, 1e15] ms); the window refuses v=1 values beyond ±1e15.
const CODE_OFFSET = 4096

/** The counters a row shows, by the field that holds each: `Failure`, `ClientError`, `Aborted`. */
export type Counter = 'failure' | 'clientError' | 'aborted'

/**
 * The field of each counter a row shows, by metric name.
 *
 * @example
 * const field = COUNTERS.get(name); if (field !== undefined) stats.addCounter(cell, field, sum)
 */
export const COUNTERS: ReadonlyMap<string, Counter> = new Map([
  ['Failure', 'failure'], ['ClientError', 'clientError'], ['Aborted', 'aborted'],
])

/** One route's part of one slot. */
export interface Cell {
  /** The route it belongs to. */
  readonly stats: RouteStats
  readonly slot: number
  requests: number
  failure: number
  clientError: number
  aborted: number
  cpuSum: number
  cpuCount: number
  timeCount: number
  timeSum: number
  timeMin: number
  timeMax: number
  timeZero: number
  /** RequestTime buckets as (code, count) pairs, merged when they pile up (see `compact`). */
  buckets: number[]
  compactAt: number
}

/**
 * A route's cells and running window. The window owns the slots; it asks for a cell with {@link cell}, adds to it
 * with the `add…` methods (which add to the running window too) and takes it out with {@link expire}.
 *
 * @example
 * const r = new RouteStats('users.id', 'GET', false, 60, 30)
 * const c = r.cell(slotNumber)
 * r.addRequests(c, 12, second)
 */
export class RouteStats {
  /** Cells by `slot % slots`. */
  private readonly cells: Array<Cell | undefined>
  /** Cells holding a slot of the window; 0 means the route can be forgotten. */
  live = 0
  requests = 0
  failure = 0
  clientError = 0
  aborted = 0
  cpuSum = 0
  cpuCount = 0
  /** RequestTime over the window: the sum of the live cells' buckets. */
  readonly time = new Sketch()
  /** Requests of second `sparkAt[i]` at `i = second % length`: the sparkline's seconds and the one in progress. */
  private readonly spark: Float64Array
  private readonly sparkAt: Float64Array

  constructor(
    readonly route: string,
    readonly method: string,
    /** The row of the routes past the cap. */
    readonly other: boolean,
    slots: number,
    sparkSeconds: number,
  ) {
    this.cells = new Array<Cell | undefined>(slots).fill(undefined)
    this.spark = new Float64Array(sparkSeconds + 1)
    this.sparkAt = new Float64Array(sparkSeconds + 1).fill(-1)
  }

  /** The cell of slot `slot`, created when new (`live` then grows: the window lists the route under the slot). */
  cell(slot: number): Cell {
    const i = slot % this.cells.length
    const found = this.cells[i]
    if (found !== undefined) return found
    const cell: Cell = {
      stats: this, slot, requests: 0, failure: 0, clientError: 0, aborted: 0, cpuSum: 0, cpuCount: 0,
      timeCount: 0, timeSum: 0, timeMin: Infinity, timeMax: -Infinity, timeZero: 0, buckets: [], compactAt: 64,
    }
    this.cells[i] = cell
    this.live++
    return cell
  }

  /** Requests in slot `slot` (0 when the route has no cell there). */
  requestsIn(slot: number): number {
    const cell = this.cells[slot % this.cells.length]
    return cell !== undefined && cell.slot === slot ? cell.requests : 0
  }

  addRequests(cell: Cell, n: number, second: number): void {
    cell.requests += n
    this.requests += n
    const i = second % this.spark.length
    if (this.sparkAt[i] === second) this.spark[i] += n
    else if (this.sparkAt[i] < second) { this.sparkAt[i] = second; this.spark[i] = n }
    // An older second than the one held there (a backfill reads newest first) is outside the sparkline anyway.
  }

  /** The sum of one of the counters a row shows. */
  addCounter(cell: Cell, counter: Counter, sum: number): void {
    cell[counter] += sum
    this[counter] += sum
  }

  addCpu(cell: Cell, n: number, sum: number): void {
    cell.cpuCount += n
    cell.cpuSum += sum
    this.cpuCount += n
    this.cpuSum += sum
  }

  /** A RequestTime sketch (left as it is): its buckets are copied into the cell and added to the window's. */
  addTime(cell: Cell, sketch: Sketch): void {
    const time = this.time
    copyBuckets(sketch.positive, time.positive, 0, cell)
    copyBuckets(sketch.negative, time.negative, 1, cell)
    if (cell.buckets.length > cell.compactAt) compact(cell)
    cell.timeZero += sketch.zero
    cell.timeCount += sketch.count
    cell.timeSum += sketch.sum
    if (sketch.min < cell.timeMin) cell.timeMin = sketch.min
    if (sketch.max > cell.timeMax) cell.timeMax = sketch.max
    time.zero += sketch.zero
    time.count += sketch.count
    time.sum += sketch.sum
    if (sketch.min < time.min) time.min = sketch.min
    if (sketch.max > time.max) time.max = sketch.max
  }

  /**
   * Takes slot `slot`'s cell out of the running window, if the route has one: every sum and bucket count is
   * subtracted (counts are integers: exact; a sum may keep a rounding error of an ulp or so). The minimum and
   * maximum are found again among the live cells only when the cell held one of them (a 1 in 60 chance).
   */
  expire(slot: number): void {
    const i = slot % this.cells.length
    const cell = this.cells[i]
    if (cell === undefined || cell.slot !== slot) return
    this.cells[i] = undefined
    this.live--
    this.requests -= cell.requests
    this.failure -= cell.failure
    this.clientError -= cell.clientError
    this.aborted -= cell.aborted
    this.cpuSum -= cell.cpuSum
    this.cpuCount -= cell.cpuCount
    const time = this.time
    const b = cell.buckets
    for (let k = 0; k < b.length; k += 2) {
      const code = b[k]
      ;((code & 1) === 1 ? time.negative : time.positive).add((code >> 1) - CODE_OFFSET, -b[k + 1])
    }
    time.count -= cell.timeCount
    time.zero -= cell.timeZero
    time.sum -= cell.timeSum
    if (this.live === 0) {
      // Nothing left: exact zeros, whatever rounding the subtractions kept.
      this.requests = this.failure = this.clientError = this.aborted = this.cpuSum = this.cpuCount = time.sum = 0
    }
    if (cell.timeMin > time.min && cell.timeMax < time.max) return
    time.min = Infinity
    time.max = -Infinity
    for (const c of this.cells) {
      if (c === undefined) continue
      if (c.timeMin < time.min) time.min = c.timeMin
      if (c.timeMax > time.max) time.max = c.timeMax
    }
  }

  /** Requests in each of the `seconds` seconds before `nowSecond`, oldest first. */
  sparkline(nowSecond: number, seconds: number): number[] {
    const out: number[] = []
    for (let second = nowSecond - seconds; second < nowSecond; second++) {
      const i = second % this.spark.length
      out.push(this.sparkAt[i] === second ? this.spark[i] : 0)
    }
    return out
  }
}

type Buckets = Sketch['positive']

/**
 * Adds one sign's buckets to the window's and appends them to the cell. The arrays are read directly, not
 * through `forEachBucket`: no callback and no array per call, which was a quarter of the window's work with
 * 2,000 routes in each entry.
 */
function copyBuckets(from: Buckets, into: Buckets, sign: 0 | 1, cell: Cell): void {
  const counts = from.counts
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]
    if (n === 0) continue
    const index = from.offset + i
    cell.buckets.push((index + CODE_OFFSET) * 2 + sign, n)
    into.add(index, n)
  }
}

/**
 * Merges a cell's pairs by bucket. A busy route's cell gets the same buckets from every process's entry; merged,
 * it holds one pair per bucket it saw, and the threshold doubles, so merging costs O(1) per pair added.
 */
function compact(cell: Cell): void {
  const merged = new Map<number, number>()
  const b = cell.buckets
  for (let i = 0; i < b.length; i += 2) merged.set(b[i], (merged.get(b[i]) ?? 0) + b[i + 1])
  const out: number[] = []
  for (const [code, n] of merged) out.push(code, n)
  cell.buckets = out
  cell.compactAt = Math.max(64, out.length * 2)
}
