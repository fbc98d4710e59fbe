/*
 * The preemption guard's sample period under real scheduling, run by cpu-guard.test.ts in a process of its own:
 *
 *   node --import tsx test/collect/cpu-guard-scenario.ts <core> [contended]   ─► one JSON line on stdout
 *
 * The process pins its main thread to `core`. With `contended`, a busy loop in another process is pinned to
 * the same core, so the OS takes the core from this thread for milliseconds at a time, as on a loaded server.
 * Then 400 requests, 4 at a time, each an await and 0.3 ms of work, through a real HTTP server of this process.
 * The guard's period is read after every request's work; the scenario prints the shortest and longest seen,
 * its reads, and the main thread's CPU over the run.
 */
import { spawn, spawnSync } from 'node:child_process'
import { memorySink, withMetrics } from '../../src/index.js'
import { attributedGuard } from '../../src/collect/cpu-attributed.js'
import { threadCpuClock } from '../../src/collect/cpu-thread.js'
import { fetchText, httpServer, listen, pool } from '../support/http.js'
import { printScenario } from '../support/scenario-process.js'

/** What the scenario prints. */
export interface GuardScenario {
  /** The guard's shortest and longest sample period seen during the requests, ms of busy time. */
  minPeriodMs: number
  maxPeriodMs: number
  /** The guard's CPU reads during the requests. */
  reads: number
  /** The main thread's CPU over the requests, ms. */
  cpuMs: number
  /** Whether the busy loop ran beside it. */
  contended: boolean
}

const core = process.argv[2] ?? '0'
const contended = process.argv[3] === 'contended'

function work(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* the request's own work */ }
}

async function main(): Promise<GuardScenario> {
  // The main thread only (its task id is the pid): the other threads (GC, JIT, libuv) stay free to move.
  const pinned = spawnSync('taskset', ['-pc', core, String(process.pid)])
  if (pinned.status !== 0) throw new Error(`taskset failed: ${String(pinned.stderr)}`)
  const loop = contended ? spawn('taskset', ['-c', core, process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' }) : undefined
  let minPeriodMs = Infinity
  let maxPeriodMs = 0
  const server = httpServer(withMetrics(async (_req, res) => {
    await new Promise((resolve) => setImmediate(resolve))
    work(0.3)
    const { periodMs } = attributedGuard()
    if (periodMs < minPeriodMs) minPeriodMs = periodMs
    if (periodMs > maxPeriodMs) maxPeriodMs = periodMs
    res.end('ok')
  }, { sink: memorySink() }))
  const { url, close } = await listen(server)
  try {
    await pool(40, 4, () => fetchText(url)) // warm-up: the guard's first periods, the JIT
    minPeriodMs = Infinity
    maxPeriodMs = 0
    const cpu = threadCpuClock()
    const reads = attributedGuard().reads
    const cpuBefore = cpu.read()
    await pool(400, 4, () => fetchText(url))
    return {
      minPeriodMs,
      maxPeriodMs,
      reads: attributedGuard().reads - reads,
      cpuMs: (cpu.read() - cpuBefore) / 1000,
      contended,
    }
  } finally {
    loop?.kill('SIGKILL')
    await close()
  }
}

printScenario(main())
