/*
 * The preemption guard's sample period under real scheduling, run by cpu-guard.test.ts in a process of its own:
 *
 *   node --import tsx test/collect/cpu-guard-scenario.ts <core> [alone|busy|short]   ─► one JSON line on stdout
 *
 * The process pins its main thread to `core`. A competitor in another process pinned to the same core takes
 * the core from this thread the way a loaded server sees it: `busy` spins without pause (the OS slices the
 * core between the two, milliseconds at a time), `short` spins 0.2 ms and sleeps 0.5 ms (preemptions shorter
 * than a request's work: other processes' short bursts, a hypervisor's steal). Then 400 requests, 4 at a time,
 * each an await and 0.3 ms of work, through a real HTTP server of this process. After every request's work the
 * scenario reads the guard (attributedGuard): its period, and whether a periodic sample set it since the last
 * read with no long hold cut in between (a `sampled` period, the adaptation's own choice).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { memorySink, withMetrics } from '../../src/index.js'
import { attributedGuard } from '../../src/collect/cpu-attributed.js'
import { threadCpuClock } from '../../src/collect/cpu-thread.js'
import { fetchText, httpServer, listen, pool } from '../support/http.js'
import { printScenario } from '../support/scenario-process.js'

/** Which competitor shares the core. */
export type Competitor = 'alone' | 'busy' | 'short'

/** What the scenario prints. */
export interface GuardScenario {
  competitor: Competitor
  /** The shortest and longest sample period seen during the requests, ms of busy time. */
  minPeriodMs: number
  maxPeriodMs: number
  /** The same, counting only periods a periodic sample chose (no long hold cut since the read before). */
  minSampledMs: number
  maxSampledMs: number
  /** The guard's CPU reads during the requests, its periodic samples, and the long holds it found cut. */
  reads: number
  samples: number
  cuts: number
  /** The main thread's CPU over the requests, ms. */
  cpuMs: number
}

const core = process.argv[2] ?? '0'
const competitor = (process.argv[3] ?? 'alone') as Competitor

function work(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* the request's own work */ }
}

// Each competitor ends itself after 30 s should this process die without killing it, and prints a byte once
// it runs (so the requests start with it on the core).
const competitors: Record<Exclude<Competitor, 'alone'>, string> = {
  busy: 'process.stdout.write("r"); const end = Date.now() + 30000; while (Date.now() < end) {}',
  short: 'process.stdout.write("r"); const end = Date.now() + 30000; const cell = new Int32Array(new SharedArrayBuffer(4));' +
    ' while (Date.now() < end) { const until = performance.now() + 0.2; while (performance.now() < until) {}' +
    ' Atomics.wait(cell, 0, 0, 0.5) }',
}

async function startCompetitor(): Promise<ChildProcess | undefined> {
  if (competitor === 'alone') return undefined
  const child = spawn('taskset', ['-c', core, process.execPath, '-e', competitors[competitor]], { stdio: ['ignore', 'pipe', 'inherit'] })
  await once(child.stdout!, 'data')
  return child
}

async function main(): Promise<GuardScenario> {
  // The main thread only (its task id is the pid): the other threads (GC, JIT, libuv) stay free to move.
  const pinned = spawnSync('taskset', ['-pc', core, String(process.pid)])
  if (pinned.status !== 0) throw new Error(`taskset failed: ${String(pinned.stderr)}`)
  const seen = { minPeriodMs: Infinity, maxPeriodMs: 0, minSampledMs: Infinity, maxSampledMs: 0 }
  let last = attributedGuard()
  const server = httpServer(withMetrics(async (_req, res) => {
    await new Promise((resolve) => setImmediate(resolve))
    work(0.3)
    const guard = attributedGuard()
    seen.minPeriodMs = Math.min(seen.minPeriodMs, guard.periodMs)
    seen.maxPeriodMs = Math.max(seen.maxPeriodMs, guard.periodMs)
    if (guard.samples > last.samples && guard.cuts === last.cuts) {
      seen.minSampledMs = Math.min(seen.minSampledMs, guard.periodMs)
      seen.maxSampledMs = Math.max(seen.maxSampledMs, guard.periodMs)
    }
    last = guard
    res.end('ok')
  }, { sink: memorySink() }))
  const { url, close } = await listen(server)
  let rival: ChildProcess | undefined
  try {
    rival = await startCompetitor()
    await pool(40, 4, () => fetchText(url)) // warm-up: the guard's first periods, the JIT
    Object.assign(seen, { minPeriodMs: Infinity, maxPeriodMs: 0, minSampledMs: Infinity, maxSampledMs: 0 })
    const cpu = threadCpuClock()
    const before = attributedGuard()
    const cpuBefore = cpu.read()
    await pool(400, 4, () => fetchText(url))
    const after = attributedGuard()
    return {
      competitor,
      ...seen,
      reads: after.reads - before.reads,
      samples: after.samples - before.samples,
      cuts: after.cuts - before.cuts,
      cpuMs: (cpu.read() - cpuBefore) / 1000,
    }
  } finally {
    rival?.kill('SIGKILL')
    await close()
  }
}

printScenario(main())
