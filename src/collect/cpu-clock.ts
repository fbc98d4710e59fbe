import type { Collector } from './collector.js'

/** The `cpu` option: how `CpuTime` is measured. */
export type CpuMode = 'attributed' | 'window' | false

/**
 * One way of measuring a request's CPU: seven points, called the same whatever the mode. The adapters call
 * three on the request path (`enter`, `leave`, `close`), the flush calls `cpuTime`, and `metrics.timed`
 * calls `read`, `since` and `endBlock`. The mode is chosen once in the factory (swap, don't branch), so `cpu: false`
 * costs nothing per request.
 *
 * @example
 * const previous = clock.enter(c); try { listener(req, res) } finally { clock.leave(c, previous) }
 */
export interface CpuClock {
  readonly mode: CpuMode
  /** Entry, right before the listener runs (`c.start` was just read). Returns what `leave` needs to restore. */
  enter(c: Collector): unknown
  /** `c`'s listener returned (or threw) synchronously; `previous` is what `enter` returned. */
  leave(c: Collector, previous: unknown): void
  /** The response finished or the connection closed (`c.end` was just read). */
  close(c: Collector): void
  /** At flush, off the request path: the request's `CpuTime` in ms, or `undefined` when not measured. */
  cpuTime(c: Collector): number | undefined
  /** For `metrics.timed`: an opaque reading now, or `undefined` when not measured. */
  read(c: Collector): number | undefined
  /** For `metrics.timed`: CPU ms between reading `from` and now. */
  since(c: Collector, from: number): number
  /** For `metrics.timed`: a block of `c` ended (`c.blocks` already counts it out). */
  endBlock(c: Collector): void
}

/**
 * Process CPU (user + system) in microseconds. One call costs ≈ 0.55 µs: a getrusage syscall (`node
 * bench/clock-cost.mjs`, Node 20.20 and 24.22, 2-core x64 Linux VM).
 *
 * @example
 * const before = processCpuMicros(); work(); const cpuMs = (processCpuMicros() - before) / 1000
 */
export function processCpuMicros(): number {
  const usage = process.cpuUsage()
  return usage.user + usage.system
}

/** `cpu: false`: no `CpuTime`, no `.cpu` timers, no work. */
export const offClock: CpuClock = {
  mode: false,
  enter: () => undefined,
  leave: () => {},
  close: () => {},
  cpuTime: () => undefined,
  read: () => undefined,
  since: () => 0,
  endBlock: () => {},
}

/**
 * `cpu: 'window'`: process CPU between entry and response end. Exact when one request runs at a time;
 * under concurrency it also charges what other requests burned meanwhile. Two `process.cpuUsage()` calls
 * per request (≈ 1.1 µs).
 */
export const windowClock: CpuClock = {
  mode: 'window',
  enter(c) {
    c.cpu = processCpuMicros()
    return undefined
  },
  leave() {},
  close(c) {
    c.cpu = (processCpuMicros() - c.cpu) / 1000
  },
  cpuTime: (c) => c.cpu,
  read: () => processCpuMicros(),
  since: (_c, from) => (processCpuMicros() - from) / 1000,
  endBlock: () => {},
}
