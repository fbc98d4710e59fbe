/**
 * A mergeable quantile summary for timers: a log-bucketed histogram with a guaranteed relative error.
 *
 * Buckets follow schema 5 of Prometheus native histograms (the same boundaries as an OpenTelemetry base-2
 * exponential histogram at scale 5): bucket `k` holds the values in `(2^((k-1)/32), 2^(k/32)]`, so
 * consecutive boundaries differ by a factor `γ = 2^(1/32) ≈ 1.0219`. A quantile is answered with the
 * bucket's representative `2γ^k / (1 + γ)`, within `(γ-1)/(γ+1) ≈ 1.08 %` of the exact value, whatever
 * the distribution; merging two summaries adds bucket counts, so merged quantiles keep that bound. Negative
 * values live in mirrored buckets, exact zeros in a zero count. Because the boundaries are Prometheus'
 * own, a later Prometheus publisher can export the buckets as a native histogram unchanged (the index is
 * the native histogram's bucket index), or sum them into classic `le` buckets.
 *
 * Why not `@datadog/sketches-js` (the DDSketch reference for JS): measured 2.1.1, `merge()` drops the
 * other sketch's negative store (merging {1..100} with {-1..-100} gives a p25 of +49.9 instead of -50.9),
 * its serialization needs `protobufjs`, which it does not declare, and its buckets do not line up with any
 * Prometheus schema. Insertion cost was the same (25 vs 22 ns per value, Node 20), so nothing was gained
 * by keeping it.
 */

/** Buckets per doubling (`2^schema`, schema 5). */
const PER_DOUBLING = 32
const GAMMA = 2 ** (1 / PER_DOUBLING)
// Values whose magnitude is below 2^-40 ms (≈ 1e-12 ms) count as zero: it bounds a bucket array to ≈ 2,900
// slots even for a pathological timer spanning 1e-12…1e15 ms, and no clock measures below a nanosecond.
const ZERO_BELOW = 2 ** -40

/**
 * The relative error bound of every quantile a {@link Sketch} answers: `(γ-1)/(γ+1)` with `γ = 2^(1/32)`.
 *
 * @example
 * const p99 = sketch.quantile(0.99) // exact p99 × (1 ± SKETCH_RELATIVE_ERROR)
 */
export const SKETCH_RELATIVE_ERROR = (GAMMA - 1) / (GAMMA + 1)

/**
 * The Prometheus native histogram schema the bucket indices follow (boundaries `2^(k / 2^schema)`).
 *
 * @example
 * const upperBound = 2 ** (k / 2 ** SKETCH_SCHEMA)
 */
export const SKETCH_SCHEMA = 5

/**
 * The bucket index of a positive value: the `k` with `2^((k-1)/32) < value ≤ 2^(k/32)`.
 *
 * @example
 * bucketIndex(1) // 0
 * bucketIndex(2) // 32
 */
export function bucketIndex(value: number): number {
  return Math.ceil(Math.log2(value) * PER_DOUBLING)
}

/**
 * The value a bucket stands for: `2γ^k / (1 + γ)`, the point of least relative error across the bucket.
 *
 * @example
 * bucketValue(bucketIndex(10)) // ≈ 10, within SKETCH_RELATIVE_ERROR
 */
export function bucketValue(index: number): number {
  return (2 * 2 ** (index / PER_DOUBLING)) / (1 + GAMMA)
}

/**
 * Bucket counts over a contiguous range of indices: `counts[i]` is the count of bucket `offset + i`.
 * Grown at either end on demand; never shrunk.
 */
class Buckets {
  offset = 0
  counts: number[] = []

  add(index: number, n: number): void {
    const counts = this.counts
    if (counts.length === 0) { this.offset = index; counts.push(n); return }
    let i = index - this.offset
    if (i < 0) {
      // Growing at the front copies; latencies arrive in no order, but a flush's range settles fast.
      this.counts = new Array<number>(-i).fill(0).concat(counts)
      this.offset = index
      i = 0
    } else {
      while (i >= counts.length) counts.push(0)
    }
    this.counts[i] += n
  }

  merge(other: Buckets): void {
    const c = other.counts
    for (let i = 0; i < c.length; i++) if (c[i] !== 0) this.add(other.offset + i, c[i])
  }
}

/**
 * A mergeable timer summary: exact count, sum, min and max, plus log buckets for quantiles.
 *
 * @example
 * const s = new Sketch()
 * for (const ms of [1.2, 3.4, 250]) s.add(ms)
 * s.quantile(0.5) // ≈ 3.4 (within 1.08 %)
 */
export class Sketch {
  count = 0
  sum = 0
  min = Infinity
  max = -Infinity
  /** Values with magnitude below 2^-40 (exact zeros, in practice). */
  zero = 0
  readonly positive = new Buckets()
  readonly negative = new Buckets()

  /** Adds one value. The caller keeps non-finite values out (they are refused at the door). */
  add(value: number): void {
    this.count++
    this.sum += value
    if (value < this.min) this.min = value
    if (value > this.max) this.max = value
    if (value > ZERO_BELOW) this.positive.add(bucketIndex(value), 1)
    else if (value < -ZERO_BELOW) this.negative.add(bucketIndex(-value), 1)
    else this.zero++
  }

  /** Adds every value of `other` into this one (`other` is left as it was). */
  merge(other: Sketch): void {
    this.count += other.count
    this.sum += other.sum
    if (other.min < this.min) this.min = other.min
    if (other.max > this.max) this.max = other.max
    this.zero += other.zero
    this.positive.merge(other.positive)
    this.negative.merge(other.negative)
  }

  /** A copy that can be merged into without touching this one. */
  clone(): Sketch {
    const copy = new Sketch()
    copy.merge(this)
    return copy
  }

  /**
   * The value at quantile `q` (0…1): the element of rank `⌊q·(count−1)⌋` in sorted order, within
   * {@link SKETCH_RELATIVE_ERROR}, and never outside `[min, max]`. `NaN` when empty.
   */
  quantile(q: number): number {
    if (this.count === 0 || !(q >= 0 && q <= 1)) return NaN
    const rank = Math.floor(q * (this.count - 1))
    let seen = 0
    let value = NaN
    const neg = this.negative.counts
    // Negative buckets run from the largest magnitude (the smallest value) down.
    for (let i = neg.length - 1; i >= 0 && Number.isNaN(value); i--) {
      seen += neg[i]
      if (seen > rank) value = -bucketValue(this.negative.offset + i)
    }
    if (Number.isNaN(value)) {
      seen += this.zero
      if (seen > rank) value = 0
    }
    const pos = this.positive.counts
    for (let i = 0; i < pos.length && Number.isNaN(value); i++) {
      seen += pos[i]
      if (seen > rank) value = bucketValue(this.positive.offset + i)
    }
    if (Number.isNaN(value)) value = this.max
    return value < this.min ? this.min : value > this.max ? this.max : value
  }

  /**
   * Calls `visit(index, count)` for every non-empty positive bucket, in index order, then for every
   * non-empty negative bucket with `negative: true`.
   */
  forEachBucket(visit: (index: number, count: number, negative: boolean) => void): void {
    for (const [b, negative] of [[this.positive, false], [this.negative, true]] as const) {
      const c = b.counts
      for (let i = 0; i < c.length; i++) if (c[i] !== 0) visit(b.offset + i, c[i], negative)
    }
  }
}

/**
 * Appends `sketch`'s buckets to `out` in the stream's run form: for each sign, the number of items that
 * follow, then the first index and the counts, where a run of `k` empty buckets is written `-k`.
 * `[3, 5, 2, 1, 0]` is buckets 5 (2 values) and 6 (1 value), no negative values.
 *
 * Why runs: a flush's latencies for one route cluster in a few dozen neighbouring buckets, so a dense count
 * list costs ≈ 2 bytes a bucket in JSON and a gap 3, against ≈ 6 for an (index, count) pair.
 *
 * @example
 * const out: number[] = []; writeRuns(out, sketch)
 */
export function writeRuns(out: number[], sketch: Sketch): void {
  for (const b of [sketch.positive, sketch.negative]) {
    const at = out.length
    out.push(0)
    const c = b.counts
    let first = 0
    while (first < c.length && c[first] === 0) first++
    let last = c.length - 1
    while (last >= first && c[last] === 0) last--
    if (first > last) continue
    out.push(b.offset + first)
    let gap = 0
    for (let i = first; i <= last; i++) {
      if (c[i] === 0) { gap++; continue }
      if (gap > 0) { out.push(-gap); gap = 0 }
      out.push(c[i])
    }
    out[at] = out.length - at - 1
  }
}

// The index range any value the door lets in can reach: |value| in [2^-40, 1e15] ms.
const MIN_INDEX = bucketIndex(ZERO_BELOW)
const MAX_INDEX = bucketIndex(1e15)

/**
 * Reads the runs {@link writeRuns} wrote, starting at `data[at]`, into `sketch`'s buckets (`undefined`: checks
 * and counts them, allocating nothing, for a reader that needs only count and sum). Returns the
 * index after them and the number of values they hold, or `undefined` when they are malformed (a bad
 * length, a count that is not a positive integer, an index outside what a value within ±1e15 ms can
 * reach). `budget.slots` is decremented by the bucket slots allocated and reading fails when it runs out,
 * so a hostile entry of wide, empty runs cannot make the agent allocate much more than its own size.
 *
 * @example
 * const read = readRuns(payload, 12, sketch, { slots: 1_000_000 })
 */
export function readRuns(
  data: readonly unknown[], at: number, sketch: Sketch | undefined, budget: { slots: number },
): { next: number, values: number } | undefined {
  let values = 0
  for (let sign = 0; sign < 2; sign++) {
    const b = sketch === undefined ? undefined : sign === 0 ? sketch.positive : sketch.negative
    const n = data[at]
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || at + 1 + n > data.length || n === 1) return undefined
    at++
    if (n === 0) continue
    const start = data[at]
    if (typeof start !== 'number' || !Number.isInteger(start) || start < MIN_INDEX || start > MAX_INDEX) return undefined
    let index = start
    for (let i = at + 1; i < at + n; i++) {
      const x = data[i]
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x === 0) return undefined
      if (x < 0) { index -= x; continue }
      if (index > MAX_INDEX) return undefined
      b?.add(index, x)
      values += x
      index++
    }
    budget.slots -= index - start
    if (budget.slots < 0) return undefined
    at += n
  }
  return { next: at, values }
}
