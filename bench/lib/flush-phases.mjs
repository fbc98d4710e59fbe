// A copy of a build whose flushes time themselves, for flush-cost.mjs: the batcher's `build` (each closed
// request made a record: its name, its CpuTime, the record's objects), the sink's `send` up to the point it
// returns (for the Redis sink: encoding the batch, then handing the entry to its socket), and, inside the Redis
// sink's send, `encodeBatch` alone. Each is wall time on the server's thread (`performance.now()` around it),
// summed in `globalThis.__routemeterFlushPhases`, which bench/server.mjs reports with each window.
import { patchedBuild } from './build-copy.mjs'

const PHASES = 'globalThis.__routemeterFlushPhases ??= { flushes: 0, records: 0, buildMs: 0, sendMs: 0, encodeMs: 0 }'

/** The edits, each on one compiled line (build-copy.mjs stops the bench when a line moved). */
const EDITS = [
  {
    file: 'pipeline/batcher.js',
    line: /^(\s*)const batch = build\(items\);$/m,
    replace: (whole, indent) => `${indent}const phases = ${PHASES}; const builtAt = performance.now(); ` +
      'const batch = build(items); phases.buildMs += performance.now() - builtAt; phases.flushes++; phases.records += items.length;',
  },
  {
    file: 'pipeline/batcher.js',
    line: /^(\s*)await sink\.send\(batch\);$/m,
    replace: (whole, indent) => `${indent}const sentAt = performance.now(); const sending = sink.send(batch); ` +
      'globalThis.__routemeterFlushPhases.sendMs += performance.now() - sentAt; await sending;',
  },
  {
    file: 'sinks/redis-delivery.js',
    line: /^(\s*)const \{ entries, dropped \} = \(0, stream_encoding_js_1\.encodeBatch\)\(batch, maxEntryBytes, encodeOptions\);$/m,
    replace: (whole, indent) => `${indent}const encodedAt = performance.now(); ` +
      'const { entries, dropped } = (0, stream_encoding_js_1.encodeBatch)(batch, maxEntryBytes, encodeOptions); ' +
      `(${PHASES}).encodeMs += performance.now() - encodedAt;`,
  },
]

/**
 * A temporary copy of the build in `dist` with the flush timers in. Returns its dist folder.
 *
 * @example
 * const env = { ...process.env, ROUTEMETER_BENCH_DIST: flushPhasesBuild(DIST) }
 */
export function flushPhasesBuild(dist) {
  return patchedBuild(dist, EDITS, 'routemeter-flush-phases-')
}
