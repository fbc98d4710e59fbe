/*
 * The accuracy scenario of test/collect/cpu*.test.ts (no tests here): 20 requests that burn 20 ms of CPU, 20
 * that only wait, 20 that wait and then burn, all at once, each burn measured around the call itself.
 *
 * "Its own burn" is a range: at least the main thread's CPU across the call (what a request's callbacks can
 * use) and at most the process's (which adds V8's GC and JIT helper threads working meanwhile). Wall time is
 * not a bound: on a loaded machine the OS takes the core away during a burn (14–18 ms of thread CPU in 20 ms).
 * The thread's CPU comes from `process.threadCpuUsage()` (Node ≥ 23.9, 22.x) or, on Node 20, the thread's
 * schedstat run time (Linux); without either, the smaller of wall time and process CPU stands in.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { constants, PerformanceObserver } from 'node:perf_hooks'
import { memorySink, metrics, withMetrics, type MetricRecord } from '../../src/index.js'
import { fetchText, httpServer, listen } from '../support/http.js'
import { sleep } from '../support/eventually.js'
import { threadCpuClock } from '../../src/collect/cpu-thread.js'
import { flushSink } from '../../src/pipeline/registry.js'

/*
 * A burn must not allocate: a collection inside it is given back to the request (gc-refund.ts) while the burn's
 * own thread CPU keeps it, and one inside a sleeper's callback bills the sleeper what the refund cannot see. A
 * loop summing `Math.sqrt(i)` into a double did allocate, in a process that had burned a while: V8 took its
 * optimized code back for on-stack replacement once a burst, and from the sixth burst on it ran code that boxes
 * the sum in a new heap number every iteration: 300–800 scavenges a burst instead of 0–6, burners billed 2–12 %
 * under their thread CPU (bench/cpu-accuracy.mjs, Node 24.22, `--trace-gc --trace-deopt`). Small-integer work
 * allocates in no tier, and a short function called in chunks does not depend on on-stack replacement.
 */
function spinChunk(iterations: number): number {
  let x = 0
  for (let i = 0; i < iterations; i++) x = (x + i) & 0xfffff
  return x
}
function spin(iterations: number): number {
  let x = 0
  for (let done = 0; done < iterations; done += 10_000) x ^= spinChunk(10_000)
  return x
}
const ITERATIONS_PER_MS = (() => {
  const probe = 200_000
  let best = Infinity
  for (let i = 0; i < 30; i++) {
    const start = performance.now()
    spin(probe)
    best = Math.min(best, performance.now() - start)
  }
  return probe / best
})()

const threadClock = threadCpuClock()
/** Which thread CPU source the bounds use: 'thread', 'schedstat', or 'process' (no thread clock: wall ∧ process). */
export const threadSource = threadClock.kind

/** What one burn cost, in ms. */
export interface Burn {
  thread: number
  process: number
  wall: number
  /** The minor page faults the process took meanwhile (a sleeper's own code only). */
  faults?: number
}

/** Burns about `ms` of CPU and returns what it cost. */
export function burn(ms: number): Burn {
  const wall = performance.now()
  const thread = threadClock.read()
  const cpu = process.cpuUsage()
  spin(Math.round(ms * ITERATIONS_PER_MS))
  const used = process.cpuUsage(cpu)
  const processMs = (used.user + used.system) / 1000
  const wallMs = performance.now() - wall
  const threadMs = threadSource === 'process' ? Math.min(wallMs, processMs) : (threadClock.read() - thread) / 1000
  return { thread: threadMs, process: Math.max(processMs, threadMs), wall: wallMs }
}

// A garbage collection pauses the thread inside whichever callback's allocation triggered it. The attributed
// clock gives pauses back a loop turn later (gc-refund.ts), but a record built in between keeps one; with 60
// requests and a test runner in one process, collecting before the burst keeps this about attribution.
setFlagsFromString('--expose-gc')
/** A full garbage collection. */
export const collectGarbage = runInNewContext('gc') as () => void

/**
 * The thread CPU a sleeper's own code uses, its waits left out, and the minor page faults the process took
 * meanwhile: when a sleeper is billed too much, this tells whether its own code was slow (memory touched for
 * the first time, a GC inside it) or CPU from outside it was billed to it.
 */
function ownCode(): { wait: <T>(p: Promise<T>) => Promise<T>, spent: () => Burn } {
  let spent = 0
  let faults = 0
  let from = threadClock.read()
  let faultsFrom = process.resourceUsage().minorPageFault
  const pause = () => {
    spent += threadClock.read() - from
    faults += process.resourceUsage().minorPageFault - faultsFrom
  }
  const resume = () => {
    faultsFrom = process.resourceUsage().minorPageFault
    from = threadClock.read()
  }
  return {
    async wait(p) {
      pause()
      try {
        return await p
      } finally {
        resume()
      }
    },
    spent: () => {
      pause()
      return { thread: spent / 1000, process: spent / 1000, wall: 0, faults }
    },
  }
}

/**
 * The scenario's app: `/burn` burns 20 ms, `/sleep` waits 20 ms, `/await-burn` waits 10 ms and then burns 20 ms,
 * each burn recorded in `burned` under the request's `x-id` header (also its `rid` dimension), and so is the CPU
 * each sleeper's own code used (ownCode). With `io`, every request also awaits `io()` before and after each wait
 * (a shared connection's replies, in cpu-pooled.test.ts).
 * The waits are the scenario itself: a sleeper's CpuTime must stay near zero while its neighbours burn.
 *
 * @example
 * const burned = new Map<string, Burn>()
 * await runBurst(scenarioApp(burned), burned, 0.25, 2)
 */
export function scenarioApp(
  burned: Map<string, Burn>, io?: () => Promise<unknown>,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  // Without `io` nothing extra is awaited: a /burn then burns in the listener's own synchronous run.
  return async (req, res) => {
    const id = String(req.headers['x-id'] ?? '')
    metrics.dimension('rid', id || '-')
    if (req.url === '/burn') {
      if (io !== undefined) await io()
      burned.set(id, burn(20))
    } else if (req.url === '/sleep') {
      const own = ownCode()
      if (io !== undefined) await own.wait(io())
      await own.wait(sleep(20))
      if (io !== undefined) await own.wait(io())
      res.end('done')
      burned.set(id, own.spent())
      return
    } else if (req.url === '/await-burn') {
      if (io !== undefined) await io()
      await sleep(10)
      if (io !== undefined) await io()
      burned.set(id, burn(20))
    }
    res.end('done')
  }
}

/** The paths of one burst: 20 of each kind, interleaved. */
export const BURST = Array.from({ length: 20 }, () => ['/burn', '/sleep', '/await-burn']).flat()

/** The result of one burst, checked against `within` (0.25 = ±25%) and `sleeperMs`. */
export interface Verdict {
  failures: string[]
  /** reported / own burn, per burner: below 1 when under the thread CPU, above 1 when over the process CPU. */
  worstRatio: number
  worstSleeperMs: number
  table: string
}

/**
 * Checks each burner's CpuTime against its own burn (by the `rid` dimension) and each sleeper's against
 * `sleeperMs`.
 */
export function verdict(records: MetricRecord[], burned: Map<string, Burn>, within: number, sleeperMs: number): Verdict {
  const failures: string[] = []
  let worstRatio = 1
  const rows: string[] = []
  const sleepers: number[] = []
  for (const r of records) {
    const cpu = r.timers.CpuTime!
    if (r.route === 'sleep') {
      sleepers.push(cpu)
      const own = burned.get(r.dimensions.rid!)
      if (cpu >= sleeperMs) {
        failures.push(`a sleeper reported ${cpu.toFixed(2)} ms (its own code: ${own?.thread.toFixed(2)} ms, ${own?.faults} page faults)`)
      }
      continue
    }
    const own = burned.get(r.dimensions.rid!)
    if (own === undefined) {
      failures.push(`no burn for request ${r.dimensions.rid}`)
      continue
    }
    // Inside [thread, process]: ratio 1. Below: reported / thread. Above: reported / process.
    const ratio = cpu < own.thread ? cpu / own.thread : cpu > own.process ? cpu / own.process : 1
    if (Math.abs(ratio - 1) > Math.abs(worstRatio - 1)) worstRatio = ratio
    rows.push(`${cpu.toFixed(1)}/${own.thread.toFixed(1)}-${own.process.toFixed(1)}`)
    if (Math.abs(ratio - 1) > within) {
      failures.push(
        `a burner reported ${cpu.toFixed(2)} ms for a burn of ${own.thread.toFixed(2)} ms thread CPU, ` +
          `${own.process.toFixed(2)} ms process CPU`,
      )
    }
  }
  const worstSleeperMs = Math.max(0, ...sleepers)
  const table = `reported/thread-process ms: ${rows.join(' ')}; sleepers max ${worstSleeperMs.toFixed(2)} ms`
  return { failures, worstRatio, worstSleeperMs, table }
}

/**
 * One run of the scenario: `app` wrapped with the default (attributed) CPU mode on a real server, warmed up
 * (V8 optimises the burn loop first: its background compiler's CPU is not the request's), then one BURST at
 * once. Resolves with the 60 records and their verdict against `within` and `sleeperMs`.
 *
 * The warm-up ends with one unrecorded BURST: the first 60 concurrent requests of a process grow V8's young
 * generation and run code paths for the first time, and a sleeper whose callback happened to allocate into the
 * fresh pages was billed that thread CPU (one callback held 1.83 ms of it, no GC pause reported). On an EPYC
 * VM, Node 20 beside two busy loops, 10 of 30 pooled runs failed without it (sleepers at 2.0–4.0 ms), 1 of 26
 * with it.
 */
export async function runBurst(
  app: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>, burned: Map<string, Burn>, within: number, sleeperMs: number,
): Promise<{ records: MetricRecord[], verdict: Verdict }> {
  const sink = memorySink()
  const { url, close } = await listen(httpServer(withMetrics(app, { sink })))
  for (let i = 0; i < 5; i++) await Promise.all(['/burn', '/sleep', '/await-burn'].map((p) => fetchText(url + p)))
  await Promise.all(BURST.map((p) => fetchText(url + p)))
  await flushSink(sink)
  sink.clear()
  collectGarbage()
  const host = watchHost()
  await Promise.all(BURST.map((p, i) => fetchText(url + p, { headers: { 'x-id': String(i) } })))
  await flushSink(sink)
  await close()
  const records = sink.records()
  const v = verdict(records, burned, within, sleeperMs)
  return { records, verdict: { ...v, table: `${v.table}; during the burst: ${host()}` } }
}

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
}

/**
 * What the process went through from now until the returned function is called: the GC pauses Node reported
 * and the page faults and involuntary context switches the kernel counted. A failure prints them beside the
 * verdict, so that a rare miss in CI says what it coincided with.
 */
function watchHost(): () => string {
  const pauses: string[] = []
  const start = performance.now()
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.startTime < start) continue // the collection just before, delivered a loop turn later
      const kind = (e as { detail?: { kind?: number } }).detail?.kind ?? -1
      pauses.push(`${GC_KINDS[kind] ?? kind} ${e.duration.toFixed(2)} ms`)
    }
  })
  observer.observe({ entryTypes: ['gc'] })
  const before = process.resourceUsage()
  return () => {
    observer.disconnect()
    const after = process.resourceUsage()
    return `GC pauses [${pauses.join(', ')}], ${after.minorPageFault - before.minorPageFault} minor page faults, ` +
      `${after.involuntaryContextSwitches - before.involuntaryContextSwitches} involuntary context switches`
  }
}
