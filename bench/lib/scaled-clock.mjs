// A copy of a build whose attributed clock runs at the pace of a slowed-down process (bench/instructions.mjs).
//
// The clock decides by wall time: a stretch of 0.2 ms or more is kept for the GC refund, a hold over 1 ms or 1–8 ms
// of busy time (the guard's sample period, and the loss budget that sets it) reads the thread's CPU. Under
// callgrind a json request takes ≈ 10 ms instead of ≈ 0.1, so almost every stretch is kept and every request
// reads the CPU at least once, work the clock does once every 5–40 requests at full speed. Scaling those
// thresholds by the slowdown makes it decide as it would at full speed, so an instruction count prices the clock
// as it runs in production. The copy loads like dist/ (build-copy.mjs).
import { patchedBuild } from './build-copy.mjs'

/** Each threshold: the file that holds it and the compiled line, whose number is scaled. */
const THRESHOLDS = [
  { file: 'collect/cpu-attributed.js', line: /^const LONG_HOLD_MS = ([\d.]+);$/m },
  { file: 'collect/cpu-attributed.js', line: /^const CPU_SAMPLE_MS = ([\d.]+);$/m },
  { file: 'collect/cpu-attributed.js', line: /^const CPU_SAMPLE_MAX_MS = ([\d.]+);$/m },
  { file: 'collect/cpu-attributed.js', line: /^const MISSED_BUDGET_MS = ([\d.]+);$/m },
  { file: 'collect/gc-refund.js', line: /^exports\.MIN_KEPT_MS = ([\d.]+);$/m },
]

/**
 * Copies the build in `dist` with the clock's thresholds multiplied by `scale`; returns the copy's dist folder.
 * Throws when a threshold is not found exactly once (the source changed: update THRESHOLDS).
 *
 * @example
 * process.env.ROUTEMETER_BENCH_DIST = scaledClockBuild(DIST, 70)
 */
export function scaledClockBuild(dist, scale) {
  const edits = THRESHOLDS.map(({ file, line }) => ({
    file, line, replace: (whole, value) => whole.replace(value, String(Number(value) * scale)),
  }))
  return patchedBuild(dist, edits, 'routemeter-scaled-clock-')
}
