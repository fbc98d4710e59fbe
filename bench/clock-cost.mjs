#!/usr/bin/env node
// What one read of each clock the CPU modes use costs, in ns per call, on the Node that runs this script.
//
//   node bench/clock-cost.mjs [--rounds 5] [--calls 200000]     # against ../dist (build first)
//   ROUTEMETER_BENCH_DIST=/tmp/x/dist /path/to/node24 bench/clock-cost.mjs
//
// The figures quoted in src/collect/cpu-clock.ts, cpu-thread.ts and cpu-attributed.ts come from here. Each
// clock is called in a tight loop (`--calls` times, after a warm-up of the same length), `--rounds` times
// interleaved; the median round is printed, with the fastest and slowest. The thread readers are the
// library's own (`threadCpuClock(kind).read`, each a `process.cpuUsage()` then the thread's clock); the bare
// calls beside them show what the `process.cpuUsage()` in front adds.
//
// A second column times each read right after a system call (a 1-byte read of /dev/null), minus the system
// call alone timed in the same round: where a kernel entry flushes the TLB (PTI without `pcid`), the read's
// code and data must be found again each time, as in a server, where every callback follows the socket read or
// write that started it. The tight loop keeps them cached and shows the least a read can cost.
//
// Checks before timing: every reader returns a finite number, and the CPU readers move forward across a
// 5 ms burn.
import { closeSync, openSync, readSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { DIST } from './lib/dist.mjs'
import { max, median, min } from './lib/stats.mjs'

const require = createRequire(import.meta.url)
const { processCpuMicros } = require(path.join(DIST, 'collect', 'cpu-clock.js'))
const { threadCpuClock } = require(path.join(DIST, 'collect', 'cpu-thread.js'))

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, calls: { type: 'string', default: '200000' } } })
const ROUNDS = Number(values.rounds)
const CALLS = Number(values.calls)

const clocks = [
  ['performance.now()', () => performance.now()],
  ['performance.nodeTiming.idleTime', () => performance.nodeTiming.idleTime],
  ['process.cpuUsage() (processCpuMicros)', processCpuMicros],
]
const cpuReaders = [processCpuMicros]
if (typeof process.threadCpuUsage === 'function') {
  clocks.push(['process.threadCpuUsage() alone', () => { const u = process.threadCpuUsage(); return u.user + u.system }])
  const thread = threadCpuClock('thread')
  clocks.push(["threadCpuClock 'thread' (cpuUsage + threadCpuUsage)", thread.read])
  cpuReaders.push(thread.read)
}
let fd
try { fd = openSync('/proc/thread-self/schedstat', 'r') } catch { fd = undefined }
if (fd !== undefined) {
  const buffer = Buffer.alloc(64)
  clocks.push(['schedstat pread alone', () => readSync(fd, buffer, 0, 64, 0)])
  const schedstat = threadCpuClock('schedstat')
  if (schedstat.kind === 'schedstat') {
    clocks.push(["threadCpuClock 'schedstat' (cpuUsage + pread)", schedstat.read])
    cpuReaders.push(schedstat.read)
  }
}

// Check before timing.
for (const [name, read] of clocks) if (!Number.isFinite(read())) throw new Error(`${name} returned ${read()}`)
for (const read of cpuReaders) {
  const before = read()
  const until = performance.now() + 5
  while (performance.now() < until);
  if (!(read() > before)) throw new Error('a CPU reader did not move across a 5 ms burn')
}

let sink = 0
function nsPerCall(read, calls = CALLS) {
  const t0 = performance.now()
  for (let i = 0; i < calls; i++) sink += read()
  return ((performance.now() - t0) * 1e6) / calls
}

const devNull = openSync('/dev/null', 'r')
const byte = Buffer.alloc(1)
/** `read` right after a system call; the system call alone is `afterSystemCall(() => 0)`, timed the same way. */
const afterSystemCall = (read) => () => readSync(devNull, byte, 0, 1, null) + read()
// A tenth of the calls: each costs a system call (≈ 2 µs with PTI).
const AFTER_CALLS = Math.max(1, Math.round(CALLS / 10))
const alone = afterSystemCall(() => 0)
const afterReads = clocks.map(([, read]) => afterSystemCall(read))

for (const [, read] of clocks) nsPerCall(read)
for (const read of [alone, ...afterReads]) nsPerCall(read, AFTER_CALLS)
const samples = clocks.map(() => [])
const afterSamples = clocks.map(() => [])
for (let round = 0; round < ROUNDS; round++) {
  clocks.forEach(([, read], i) => samples[i].push(nsPerCall(read)))
  const aloneNs = nsPerCall(alone, AFTER_CALLS)
  afterReads.forEach((read, i) => afterSamples[i].push(nsPerCall(read, AFTER_CALLS) - aloneNs))
}

/** The median round, with the fastest and slowest. */
const summary = (values) => `${median(values).toFixed(0).padStart(6)}   [${min(values).toFixed(0)}…${max(values).toFixed(0)}]`
console.log(`node ${process.version}, ${process.platform}/${process.arch}, ${CALLS} calls × ${ROUNDS} rounds; ns per call`)
const width = Math.max(...clocks.map(([name]) => name.length))
console.log(`${''.padEnd(width)}  ${'tight loop'.padEnd(22)}after a system call (${AFTER_CALLS} calls, the call's own time taken out)`)
clocks.forEach(([name], i) => console.log(`${name.padEnd(width)}  ${summary(samples[i]).padEnd(22)}${summary(afterSamples[i])}`))
closeSync(devNull)
if (fd !== undefined) closeSync(fd)
if (sink === 0) console.log('')
