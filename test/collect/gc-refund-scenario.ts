/*
 * The GC refund's real scenario, run by gc-refund.test.ts in a process of its own:
 *
 *   node --single-threaded-gc --import tsx test/collect/gc-refund-scenario.ts   ─► one JSON line on stdout
 *
 * Requests whose callbacks run a full garbage collection of a heap made big on purpose; V8 reports each pause
 * to the 'gc' observer a loop turn later, and what it cost must leave the request's CpuTime. The test asserts
 * on what this prints. Why a process of its own, with V8's collector on the main thread only:
 *
 * - In the test runner's process (uvu loads every test file before it runs any) the collection marked the
 *   whole suite's heap too: 100 ms instead of 50, and what V8 and Node did on the thread after it, outside the
 *   pause they report, grew with it (4.6 ms in one CI run on Node 24, 0.2–0.4 ms alone).
 * - With helper threads the main thread spends most of a full collection waiting for them: 5.3 ms of thread
 *   CPU for a 55 ms pause alone, too little to tell a refund from none. On one thread the pause is all CPU.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { memorySink, metrics, withMetrics, type MetricRecord } from '../../src/index.js'
import { burn, collectGarbage, type Burn } from './cpu-scenario.js'
import { fetchText, httpServer, listen } from '../support/http.js'
import { sleep } from '../support/eventually.js'
import { flushSink } from '../../src/pipeline/registry.js'
import { threadCpuClock } from '../../src/collect/cpu-thread.js'
import { printScenario } from '../support/scenario-process.js'

/** A pause as the request saw it: ms of wall time and of the main thread's CPU. */
export interface Pause {
  wall: number
  cpu: number
}

/** What the scenario prints: every figure the test bounds. */
export interface GcScenario {
  /** Live objects each collection marked (module-level, so alive to the end). */
  heapObjects: number
  /** CpuTime of a request with no collection in it, and of one whose only work was a collection. */
  warm: number
  onlyGc: number
  pause: Pause
  /** A 20 ms burn and a collection in one stretch. */
  burnGc: { cpuTime: number, own: Burn, pause: Pause }
  /** A `metrics.timed` block that waits and burns 20 ms after the response ended. */
  after: { cpu: number, own: Burn }
  /** A collection, then a timed block that waits and burns 10 ms. */
  gcBlock: { cpu: number, own: Burn }
}

// A million live objects, alive until the process exits: a full collection of them takes tens of milliseconds.
const heap = Array.from({ length: 1_000_000 }, (_, i) => ({ i, s: `v${i}` }))
const thread = threadCpuClock()

function collect(): Pause {
  const wall = performance.now()
  const cpu = thread.read()
  collectGarbage()
  return { wall: performance.now() - wall, cpu: (thread.read() - cpu) / 1000 }
}

const pauses = new Map<string, Pause>()
const burns = new Map<string, Burn>()
const sink = memorySink()
// batchSize 1: every response's push schedules a flush of its own in the same turn as the collection, the
// race the batcher's two-turn delay is for (a pause is reported in the check phase after it; a record built
// before that kept the pause: 67 ms for a 20 ms burn and a 125 ms collection).
// /gc waits, collects, waits; /burn-gc burns 20 ms and collects in one stretch; /after ends the response, then
// times a block that waits and burns 20 ms; /gc-block collects, then times a block that waits and burns 10 ms.
const app = withMetrics(async (req: IncomingMessage, res: ServerResponse) => {
  const path = req.url!
  await sleep(5)
  if (path === '/gc') {
    pauses.set(path, collect())
    await sleep(5)
  } else if (path === '/burn-gc') {
    burns.set(path, burn(20))
    pauses.set(path, collect())
  } else if (path === '/after') {
    res.end('ok')
    await metrics.timed('bg', async () => {
      await sleep(10)
      burns.set(path, burn(20))
    })
    return
  } else if (path === '/gc-block') {
    pauses.set(path, collect())
    await metrics.timed('blk', async () => {
      await sleep(5)
      burns.set(path, burn(10))
    })
  }
  res.end('ok')
}, { sink, batchSize: 1 })

/** The record of one request to `path`, once the pauses it saw were reported (a loop turn later). */
async function recordOf(url: string, path: string): Promise<MetricRecord> {
  sink.clear()
  await fetchText(url + path)
  await sleep(path === '/after' ? 100 : 50)
  await flushSink(sink)
  const records = sink.records()
  const found = records.find((r) => r.kind === 'request')
  if (found === undefined) throw new Error(`no record for ${path}`)
  // A block still running when the response ended is recorded where `metrics` records after a request: the
  // process record. Its timers are merged in here.
  const outside = records.find((r) => r.kind === 'process')
  return outside === undefined ? found : { ...found, timers: { ...found.timers, ...outside.timers } }
}

async function main(): Promise<GcScenario> {
  const { url, close } = await listen(httpServer(app))
  try {
    // First requests of a fresh server compile their code, the first collection its own: neither is the point.
    for (let i = 0; i < 5; i++) await fetchText(url + '/warm')
    await recordOf(url, '/gc')
    const warm = await recordOf(url, '/warm')
    const onlyGc = await recordOf(url, '/gc')
    const burnGc = await recordOf(url, '/burn-gc')
    const after = await recordOf(url, '/after')
    const gcBlock = await recordOf(url, '/gc-block')
    return {
      heapObjects: heap.length,
      warm: warm.timers.CpuTime!,
      onlyGc: onlyGc.timers.CpuTime!,
      pause: pauses.get('/gc')!,
      burnGc: { cpuTime: burnGc.timers.CpuTime!, own: burns.get('/burn-gc')!, pause: pauses.get('/burn-gc')! },
      after: { cpu: after.timers['bg.cpu']!, own: burns.get('/after')! },
      gcBlock: { cpu: gcBlock.timers['blk.cpu']!, own: burns.get('/gc-block')! },
    }
  } finally {
    await close()
  }
}

printScenario(main())
