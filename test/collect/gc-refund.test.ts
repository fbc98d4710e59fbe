import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { memorySink, metrics, withMetrics, type MetricRecord } from '../../src/index.js'
import { burn, collectGarbage, type Burn } from './cpu-scenario.js'
import { keepStretch, refundPause, type Refundable } from '../../src/collect/gc-refund.js'
import { fetchText, httpServer, listen } from '../support/http.js'
import { sleep } from '../support/eventually.js'
import { flushSink } from '../../src/pipeline/registry.js'
import { threadCpuClock } from '../../src/collect/cpu-thread.js'

const slot = (onThread: number, end = 0): Refundable => ({ onThread, refunded: 0, end })

test('a pause gives back the overlap of each stretch it fell in, at most what the stretch was charged', () => {
  const a = slot(5)
  const b = slot(3)
  // Stretches far in the future of any real one, so the ring's other entries (older) are never touched.
  const t = 1e12
  keepStretch(a, t, t + 4, 4, 4) // a held 4 ms
  keepStretch(b, t + 4, t + 6, 1.5, 1.5) // b held 2 ms of wall time, 1.5 of it on the thread (the loop idled the rest)
  // A pause from t+3 to t+7: 1 ms of a's stretch, all of b's (1.5).
  assert.is(refundPause(t + 3, 4), 2.5)
  assert.equal([a.refunded, b.refunded], [1, 1.5])
  // A second pause in a's stretch: what is left of its charge and of its time.
  assert.is(refundPause(t + 0.5, 1), 1)
  assert.equal([a.refunded, b.refunded], [2, 1.5])
  // What is charged is never lowered (metrics.timed blocks take differences of it).
  assert.equal([a.onThread, b.onThread], [5, 3])
})

test('a stretch charged by the thread CPU gives back no more than the pause can have cost of it', () => {
  // 20 ms of burning, then a pause of 78 ms wall: the guard charged the thread CPU across both, 26.6 ms. The
  // burn used at most its 20 ms, so the pause cost at least 6.6 of the charge, and that is what goes back.
  const burner = slot(26.6)
  const t = 2e12
  keepStretch(burner, t, t + 98, 26.6, 98)
  assert.ok(Math.abs(refundPause(t + 20, 78) - 6.6) < 1e-9)
  assert.ok(Math.abs(burner.refunded - 6.6) < 1e-9)
})

test('stretches that began after the request ended are not taken out of its CpuTime', () => {
  const ended = slot(3, 3e12 + 2)
  const t = 3e12
  keepStretch(ended, t, t + 2, 2, 2) // before its end: in CpuTime
  keepStretch(ended, t + 2, t + 3, 1, 1) // a timed block still running after it
  assert.is(refundPause(t, 3), 3)
  assert.is(ended.refunded, 2)
})

test('a pause before every kept stretch gives nothing back', () => {
  const s = slot(1)
  const t = 4e12
  keepStretch(s, t, t + 1, 1, 1)
  assert.is(refundPause(t - 10, 5), 0)
  assert.is(s.refunded, 0)
})

/*
 * The real thing: requests whose callbacks run a full garbage collection of a heap made big on purpose. V8
 * reports each pause to the 'gc' observer a loop turn later; what it cost must leave the request's CpuTime.
 */
// A million live objects: a full GC takes tens of milliseconds on this kind of machine. Made by the first test
// that needs it and dropped by the last, not when the file loads: uvu loads every test file before it runs any,
// so a module-level heap stayed alive through the whole suite and made every full collection of the CPU
// accuracy tests (test/collect/cpu*.test.ts) a 100 ms one, whose after-pause work lands in a request.
let heap: Array<{ i: number, s: string }> = []
const bigHeap = (): void => { heap = Array.from({ length: 1_000_000 }, (_, i) => ({ i, s: `v${i}` })) }
const thread = threadCpuClock()

/** A full GC, timed: wall and thread CPU ms. */
function collect(): { wall: number, cpu: number } {
  const wall = performance.now()
  const cpu = thread.read()
  collectGarbage()
  return { wall: performance.now() - wall, cpu: (thread.read() - cpu) / 1000 }
}

const pauses = new Map<string, { wall: number, cpu: number }>()
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
  assert.ok(found, `a record for ${path}`)
  // A block still running when the response ended is recorded where `metrics` records after a request: the
  // process record. Its timers are merged in here.
  const outside = records.find((r) => r.kind === 'process')
  return outside === undefined ? found! : { ...found!, timers: { ...found!.timers, ...outside.timers } }
}

// What the refund leaves: the thread's work right after a full collection's reported pause and before the next
// callback (V8's and Node's post-collection work, outside the pause Node reports), billed to the request that
// collected. On a 2-core AMD EPYC VM, after 60–150 ms collections of this heap: 0.6–1.8 ms once the process
// had collected before (Nodes 20, 22, 24; up to 3.1 ms for /burn-gc under c8 on Node 22), 1.4–4.3 ms and once
// 8.4 ms for the first full collection of a process (its code runs for the first time), hence the warm-up.
const LEFT_AFTER_PAUSE_MS = 4

test('GC pauses inside a request are taken out of its CpuTime, and only what they cost of it', async () => {
  bigHeap()
  const { url, close } = await listen(httpServer(app))
  try {
    // First requests of a fresh server compile their code, the first collection its own: neither is the point.
    for (let i = 0; i < 5; i++) await fetchText(url + '/warm')
    await recordOf(url, '/gc')

    const warm = await recordOf(url, '/warm')
    const onlyGc = await recordOf(url, '/gc')
    const pause = pauses.get('/gc')!
    // Unrefunded, the pause would add its thread CPU: more than the allowance, or this could not fail.
    assert.ok(pause.wall > 10 && pause.cpu > LEFT_AFTER_PAUSE_MS,
      `the collection should take a while (took ${pause.wall.toFixed(1)} ms, ${pause.cpu.toFixed(1)} ms of thread CPU)`)
    assert.ok(onlyGc.timers.CpuTime! < warm.timers.CpuTime! + LEFT_AFTER_PAUSE_MS, `CpuTime ` +
      `${onlyGc.timers.CpuTime!.toFixed(2)} ms for a request whose only work was a GC of ${pause.wall.toFixed(1)} ms ` +
      `(${pause.cpu.toFixed(1)} ms of thread CPU); ${warm.timers.CpuTime!.toFixed(2)} ms without the GC`)

    // A burn and a GC in one stretch: the burn stays billed, whatever the GC's wall time.
    const burnGc = await recordOf(url, '/burn-gc')
    const own = burns.get('/burn-gc')!
    const cpuTime = burnGc.timers.CpuTime!
    const burnPause = pauses.get('/burn-gc')!
    assert.ok(burnPause.cpu > LEFT_AFTER_PAUSE_MS, `a GC of ${burnPause.cpu.toFixed(1)} ms of thread CPU is too short to tell`)
    assert.ok(cpuTime >= own.thread * 0.75 && cpuTime <= own.wall + LEFT_AFTER_PAUSE_MS,
      `CpuTime ${cpuTime.toFixed(2)} ms for a burn of ${own.thread.toFixed(2)} ms thread CPU (${own.wall.toFixed(2)} wall) ` +
      `and a GC of ${burnPause.wall.toFixed(1)} ms (${burnPause.cpu.toFixed(1)} ms of thread CPU)`)
  } finally {
    await close()
  }
})

test('a timed block keeps its CPU after the response ended and after a GC before it', async () => {
  const { url, close } = await listen(httpServer(app))
  try {
    for (let i = 0; i < 5; i++) await fetchText(url + '/warm')
    // Callbacks of an ended request no longer switch the clock, except while one of its timed blocks runs.
    const after = await recordOf(url, '/after')
    const bg = after.timers['bg.cpu']!
    const own = burns.get('/after')!
    assert.ok(bg >= own.thread * 0.75 && bg <= own.process * 1.25 + 1, `bg.cpu ${bg} for a burn of ${own.thread.toFixed(2)} ms`)
    // A GC before the block is refunded while the block runs: the block's CPU must not lose it.
    const gcBlock = await recordOf(url, '/gc-block')
    const blk = gcBlock.timers['blk.cpu']!
    const burned = burns.get('/gc-block')!
    assert.ok(blk >= burned.thread * 0.75, `blk.cpu ${blk} for a burn of ${burned.thread.toFixed(2)} ms after a GC`)
  } finally {
    await close()
  }
  assert.is(heap.length, 1_000_000) // alive until here: each collection had all of it to mark
  heap = []
})

test.run()
