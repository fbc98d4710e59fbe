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
 * read with no long hold cut in between (a `sampled` period, the adaptation's own choice); where exactly one
 * sample did, how much longer it made the period (`maxStep`: at most 2, as it lengthens a step at a time).
 * Over the run it reports the share of the thread's busy time the OS took (`lostShare`), which tells whether
 * the core was free when alone and the competitor took it when not.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { availableParallelism } from 'node:os'
import { memorySink, withMetrics } from '../../src/index.js'
import { attributedGuard, attributedMechanism } from '../../src/collect/cpu-attributed.js'
import { threadCpuClock, type ThreadCpuKind } from '../../src/collect/cpu-thread.js'
import { fetchText, httpServer, listen, pool } from '../support/http.js'
import { printScenario } from '../support/scenario-process.js'

/**
 * Which competitor shares the core: none, a busy loop, or a process of 0.2 ms bursts.
 *
 * @example
 * runScenario<GuardScenario>('test/collect/cpu-guard-scenario.ts', { args: ['1', 'short' satisfies Competitor] })
 */
export type Competitor = 'alone' | 'busy' | 'short'
const COMPETITORS: readonly Competitor[] = ['alone', 'busy', 'short']

/** What the scenario prints. */
export interface GuardScenario {
  /** Who shared the core. */
  competitor: Competitor
  /** The guard's CPU source: with `'process'` its period stays at 1 ms. */
  cpuKind: ThreadCpuKind
  /** The shortest and longest sample period seen during the requests, ms of busy time. */
  minPeriodMs: number
  maxPeriodMs: number
  /** The same, counting only periods a periodic sample chose (no long hold cut since the read before). */
  minSampledMs: number
  maxSampledMs: number
  /** The largest factor by which one sample lengthened the period. */
  maxStep: number
  /** (busy − CPU) / busy of the main thread over the requests: what the OS took from it. */
  lostShare: number
  /** The guard's CPU reads during the requests, its periodic samples, and the long holds it found cut. */
  reads: number
  samples: number
  cuts: number
  /** The main thread's CPU over the requests, ms. */
  cpuMs: number
}

const core = process.argv[2] ?? '0'
const competitor = (process.argv[3] ?? 'alone') as Competitor
if (!COMPETITORS.includes(competitor)) throw new TypeError(`competitor: one of ${COMPETITORS.join(', ')}, not ${competitor}`)

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

/** Starts the competitor and waits until it runs; it is in `started` from the first moment, to be killed. */
async function startCompetitor(started: ChildProcess[]): Promise<void> {
  if (competitor === 'alone') return
  const child = spawn('taskset', ['-c', core, process.execPath, '-e', competitors[competitor]], { stdio: ['ignore', 'pipe', 'inherit'] })
  started.push(child)
  // `gone` resolves (never rejects) so that the competitor's exit at our kill, later, is no unhandled rejection.
  const gone = once(child, 'exit').then(
    ([code]) => new Error(`the ${competitor} competitor exited with ${String(code)}`),
    (error: Error) => error,
  )
  const first = await Promise.race([once(child.stdout!, 'data').then(() => undefined), gone])
  if (first !== undefined) throw first
}

async function main(): Promise<GuardScenario> {
  // The main thread (its task id is the pid) alone on `core`; the process's other threads (GC, JIT, libuv) on
  // the other cores, so that what takes the core from it is the competitor's doing: unpinned, V8's helper
  // threads took 5–12 % of its busy time on Node 20 with no competitor at all.
  const others = Array.from({ length: availableParallelism() }, (_, i) => i).filter((i) => String(i) !== core).join(',')
  for (const [cpus, all] of [[others, true], [core, false]] as const) {
    const pinned = spawnSync('taskset', [all ? '-apc' : '-pc', cpus, String(process.pid)])
    if (pinned.status !== 0) throw new Error(`taskset failed: ${String(pinned.stderr)}`)
  }
  const fresh = () => ({ minPeriodMs: Infinity, maxPeriodMs: 0, minSampledMs: Infinity, maxSampledMs: 0, maxStep: 0 })
  const seen = fresh()
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
      if (guard.samples === last.samples + 1) seen.maxStep = Math.max(seen.maxStep, guard.periodMs / last.periodMs)
    }
    last = guard
    res.end('ok')
  }, { sink: memorySink() }))
  const { url, close } = await listen(server)
  const rivals: ChildProcess[] = []
  try {
    await startCompetitor(rivals)
    await pool(40, 4, () => fetchText(url)) // warm-up: the guard's first periods, the JIT
    Object.assign(seen, fresh())
    const cpu = threadCpuClock()
    const before = attributedGuard()
    const cpuBefore = cpu.read()
    const loopBefore = performance.eventLoopUtilization()
    await pool(400, 4, () => fetchText(url))
    const busyMs = performance.eventLoopUtilization(loopBefore).active
    const cpuMs = (cpu.read() - cpuBefore) / 1000
    const after = attributedGuard()
    return {
      competitor,
      cpuKind: attributedMechanism()!.cpu,
      ...seen,
      lostShare: (busyMs - cpuMs) / busyMs,
      reads: after.reads - before.reads,
      samples: after.samples - before.samples,
      cuts: after.cuts - before.cuts,
      cpuMs,
    }
  } finally {
    for (const rival of rivals) rival.kill('SIGKILL')
    await close()
  }
}

printScenario(main())
