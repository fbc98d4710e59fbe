import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks'

/*
 * Garbage-collection pauses, taken back out of the stretches of thread time they fell in.
 *
 *   switch ─► the stretch just charged was ≥ 0.2 ms? ─► kept in a ring (start, end, slot, ms charged, ms held)
 *   V8 pauses for GC ─► Node posts a 'gc' PerformanceEntry (start, duration, on performance.now()'s clock),
 *                       delivered a loop turn later ─► each kept stretch it overlaps gives back what the pause
 *                       can have cost of its charge, into its slot's `refunded` (CpuTime = charged − refunded)
 *
 * Why: a pause runs in whatever callback allocated last, and that callback's request was billed all of it.
 * On Node 20 under load a scavenge took 5–12 ms, so in the accuracy scenario (bench/cpu-accuracy.mjs, pooled,
 * 20 runs at a time) 1–3 runs in 20 showed a sleeper billed 3.6–12.6 ms or a burner +25–57 %, past the test's
 * bounds; `--trace-gc` put a scavenge of that length in each of them. A scavenge is triggered by the
 * allocation that found the young generation full, not caused by it: the bytes of every request since the
 * last one filled it. The pause belongs to no request, like the GC helper threads' CPU.
 *
 * Why only stretches of 0.2 ms or more: a pause lies inside one stretch, which is then at least as long, and
 * shorter pauses are not worth a write per switch (most stretches last microseconds). One comparison per
 * switch is the cost on the request path; the ring's writes happen at most ~5,000 times a second.
 */

/** What a stretch was charged to: a request's collector, or the attributed clock's OUTSIDE. */
export interface Refundable {
  /** Ms charged, never lowered: `metrics.timed` blocks take differences of it. */
  onThread: number
  /** Ms of pauses given back from stretches that began before `end`: CpuTime is `onThread` at the end minus these. */
  refunded: number
  /** `performance.now()` when the request ended; 0 while open (and always for OUTSIDE). */
  end: number
}

/** Stretches shorter than this are not kept. */
export const MIN_KEPT_MS = 0.2
// A pause is delivered a loop turn after it ended. At 5,000 kept stretches a second, 256 cover 50 ms.
const RING = 256
const MASK = RING - 1

const starts = new Float64Array(RING)
const ends = new Float64Array(RING)
const charged = new Float64Array(RING)
/** The stretch's thread time before the preemption guard capped it (idle taken out): `charged` or more. */
const walls = new Float64Array(RING)
const slots: Array<Refundable | undefined> = new Array<Refundable | undefined>(RING).fill(undefined)
let next = 0

/**
 * Keeps a stretch charged `ms` to `slot`, from `start` to `end` (performance.now() ms), `wall` ms of it on the
 * thread (`ms` is less when the preemption guard capped it by the thread's CPU).
 *
 * @example
 * if (held >= MIN_KEPT_MS) keepStretch(previous, since, now, held, onThread)
 */
export function keepStretch(slot: Refundable, start: number, end: number, ms: number, wall: number): void {
  const i = next & MASK
  starts[i] = start
  ends[i] = end
  charged[i] = ms
  walls[i] = wall
  slots[i] = slot
  next++
}

/**
 * Gives back to the stretches it overlaps a pause from `start` lasting `duration` ms. Returns the ms given back.
 *
 * How much: the pause's wall time overlapping the stretch, but no more than the stretch's charge could have
 * spent in it. A stretch charged by the thread's CPU (longer than 1 ms) may have waited through most of the
 * pause (for V8's helper threads, or preempted): a 20 ms burn followed by a full GC of 78 ms wall and 6.6 ms
 * of thread CPU, in one stretch charged 26.6 ms, gave back all of it when the overlap alone was the bound.
 * The rest of the stretch used at most its wall time, so the pause cost at least `charged − (wall − overlap)`
 * of the charge: that much is given back (6.6 ms there), a conservative figure when the rest was preempted.
 * (`wall` is the stretch's time on the thread, idle taken out, so the overlap can exceed it: then all of it.)
 *
 * @example
 * refundPause(entry.startTime, entry.duration)
 */
export function refundPause(start: number, duration: number): number {
  const end = start + duration
  let refunded = 0
  for (let n = next - 1; n >= 0 && n >= next - RING; n--) {
    const i = n & MASK
    if (ends[i]! <= start) break // stretches are kept in time order: every older one ended before the pause
    const overlap = Math.min(ends[i]!, end) - Math.max(starts[i]!, start)
    if (overlap <= 0) continue
    const take = Math.min(overlap, charged[i]! - Math.max(0, walls[i]! - overlap))
    walls[i] = walls[i]! - overlap
    if (take <= 0) continue
    charged[i] = charged[i]! - take
    const slot = slots[i]!
    // A stretch that began after the request ended (a `metrics.timed` block still running) is not in its CpuTime.
    if (slot.end === 0 || starts[i]! < slot.end) slot.refunded += take
    refunded += take
  }
  return refunded
}

let observer: PerformanceObserver | undefined

/**
 * Starts refunding every GC pause Node reports, once per process.
 *
 * @example
 * refundGcPauses()
 */
export function refundGcPauses(): void {
  if (observer !== undefined) return
  observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries() as PerformanceEntry[]) refundPause(entry.startTime, entry.duration)
  })
  observer.observe({ entryTypes: ['gc'] })
}
