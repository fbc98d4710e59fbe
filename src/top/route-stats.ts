/**
 * One route (and method) in `top`'s window: a cell per slot of the window holding what that slot's entries
 * said, and the running sum of the live cells, which is what a snapshot reads.
 *
 * ```
 * entry ─► cell of its slot   += requests, Failure/ClientError/Aborted, CpuTime sum and count, RequestTime buckets
 *      └─► running window     += the same; running RequestTime sketch += the buckets; per-second request counts
 * slot expires ─► its cell leaves: buckets subtracted from the sketch, sums added up again over the live cells
 * ```
 *
 * Why a running sketch with buckets taken back out, not a sketch per slot merged at each snapshot: merging 60
 * slot sketches per route every second costs 60 × the bucket span (a few hundred) per route, ≈ 180 M additions a
 * second for 10,000 routes, more than a core; and a dense sketch per (route, slot) holds its whole span (≈ 1.7 KB
 * for 10 values between 2 and 200 ms), 600,000 of them for 10,000 routes over 60 slots. A cell keeps only the
 * buckets it was given, as (bucket, count) pairs, and a snapshot reads one sketch per route. Bucket counts are
 * integers, so taking a cell out is exact: the window's quantiles are those of its live slots' merged sketches.
 */
import { Sketch } from '../wire/sketch.js'

// A (bucket, sign) pair as one number: (index + offset) × 2 + negative. The indices of the values the door lets in
// lie within −1,280…1,595 (|value| in [2^-40, 1e15] ms); the window refuses v=1 values beyond ±1e15.
const CODE_OFFSET = 4096

/** One route's part of one slot. */
export interface Cell {
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

  /** The cell of slot `slot`, created when new (`created` then tells the window to list the route under the slot). */
  cell(slot: number): { cell: Cell, created: boolean } {
    const i = slot % this.cells.length
    const found = this.cells[i]
    if (found !== undefined) return { cell: found, created: false }
    const cell: Cell = {
      slot, requests: 0, failure: 0, clientError: 0, aborted: 0, cpuSum: 0, cpuCount: 0,
      timeCount: 0, timeSum: 0, timeMin: Infinity, timeMax: -Infinity, timeZero: 0, buckets: [], compactAt: 64,
    }
    this.cells[i] = cell
    this.live++
    return { cell, created: true }
  }

  addRequests(cell: Cell, n: number, second: number): void {
    cell.requests += n
    this.requests += n
    const i = second % this.spark.length
    if (this.sparkAt[i] === second) this.spark[i] += n
    else if (this.sparkAt[i] < second) { this.sparkAt[i] = second; this.spark[i] = n }
    // An older second than the one held there (a backfill reads newest first) is outside the sparkline anyway.
  }

  /** A counter's sum; only the three that rows show are kept. */
  addCounter(cell: Cell, name: string, sum: number): void {
    switch (name) {
      case 'Failure':
        cell.failure += sum
        this.failure += sum
        break
      case 'ClientError':
        cell.clientError += sum
        this.clientError += sum
        break
      case 'Aborted':
        cell.aborted += sum
        this.aborted += sum
        break
    }
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
    sketch.forEachBucket((index, n, negative) => {
      cell.buckets.push((index + CODE_OFFSET) * 2 + (negative ? 1 : 0), n)
      ;(negative ? time.negative : time.positive).add(index, n)
    })
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
   * Takes slot `slot`'s cell out of the running window, if the route has one. Bucket counts are subtracted
   * (integers: exact); the sums, minimum and maximum are added up again over the live cells, so no rounding piles
   * up over hours and the sketch's [min, max] clamp stays the window's.
   */
  expire(slot: number): void {
    const i = slot % this.cells.length
    const cell = this.cells[i]
    if (cell === undefined || cell.slot !== slot) return
    this.cells[i] = undefined
    this.live--
    const time = this.time
    const b = cell.buckets
    for (let k = 0; k < b.length; k += 2) {
      const code = b[k]
      ;((code & 1) === 1 ? time.negative : time.positive).add((code >> 1) - CODE_OFFSET, -b[k + 1])
    }
    time.count -= cell.timeCount
    time.zero -= cell.timeZero
    this.requests = this.failure = this.clientError = this.aborted = this.cpuSum = this.cpuCount = 0
    time.sum = 0
    time.min = Infinity
    time.max = -Infinity
    for (const c of this.cells) {
      if (c === undefined) continue
      this.requests += c.requests
      this.failure += c.failure
      this.clientError += c.clientError
      this.aborted += c.aborted
      this.cpuSum += c.cpuSum
      this.cpuCount += c.cpuCount
      time.sum += c.timeSum
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
