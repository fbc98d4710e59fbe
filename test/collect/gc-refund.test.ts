import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { keepStretch, refundPause, type Refundable } from '../../src/collect/gc-refund.js'
import { runScenario } from '../support/scenario-process.js'
import type { GcScenario } from './gc-refund-scenario.js'

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
 * The real thing, in a process of its own with V8's collector on the main thread only (gc-refund-scenario.ts says
 * why): requests whose callbacks run a full garbage collection of a heap made big on purpose.
 */
// What the refund leaves: the thread's work right after a full collection's reported pause and before the next
// callback (V8's and Node's post-collection work, outside the pause Node reports), billed to the request that
// collected. After 50–90 ms collections: 0.2–0.5 ms on a 2-core Intel Xeon VM (Node 20 and 24, the scenario
// alone); 0.6–1.8 ms on a 2-core AMD EPYC VM, 1.4–4.3 ms and once 8.4 ms for a process's first collection
// (hence the warm-up), and 4.6 ms once when the test runner's whole heap was collected with it.
const LEFT_AFTER_PAUSE_MS = 4

let scenario: GcScenario | undefined
async function gcScenario(): Promise<GcScenario> {
  if (scenario !== undefined) return scenario
  scenario = await runScenario<GcScenario>('test/collect/gc-refund-scenario.ts', { nodeArgs: ['--single-threaded-gc'] })
  return scenario
}

test('GC pauses inside a request are taken out of its CpuTime, and only what they cost of it', async () => {
  const { warm, onlyGc, pause, burnGc } = await gcScenario()
  // Unrefunded, the pause would add its thread CPU: more than the allowance, or this could not fail.
  assert.ok(pause.wall > 10 && pause.cpu > 2 * LEFT_AFTER_PAUSE_MS,
    `the collection should take a while (took ${pause.wall.toFixed(1)} ms, ${pause.cpu.toFixed(1)} ms of thread CPU)`)
  assert.ok(onlyGc < warm + LEFT_AFTER_PAUSE_MS, `CpuTime ${onlyGc.toFixed(2)} ms for a request whose only work was a ` +
    `GC of ${pause.wall.toFixed(1)} ms (${pause.cpu.toFixed(1)} ms of thread CPU); ${warm.toFixed(2)} ms without the GC`)

  // A burn and a GC in one stretch: the burn stays billed, whatever the GC's wall time.
  const { cpuTime, own, pause: burnPause } = burnGc
  assert.ok(burnPause.cpu > 2 * LEFT_AFTER_PAUSE_MS, `a GC of ${burnPause.cpu.toFixed(1)} ms of thread CPU is too short to tell`)
  assert.ok(cpuTime >= own.thread * 0.75 && cpuTime <= own.wall + LEFT_AFTER_PAUSE_MS,
    `CpuTime ${cpuTime.toFixed(2)} ms for a burn of ${own.thread.toFixed(2)} ms thread CPU (${own.wall.toFixed(2)} wall) ` +
    `and a GC of ${burnPause.wall.toFixed(1)} ms (${burnPause.cpu.toFixed(1)} ms of thread CPU)`)
})

test('a timed block keeps its CPU after the response ended and after a GC before it', async () => {
  const { after, gcBlock } = await gcScenario()
  // Callbacks of an ended request no longer switch the clock, except while one of its timed blocks runs.
  assert.ok(after.cpu >= after.own.thread * 0.75 && after.cpu <= after.own.process * 1.25 + 1,
    `bg.cpu ${after.cpu} for a burn of ${after.own.thread.toFixed(2)} ms`)
  // A GC before the block is refunded while the block runs: the block's CPU must not lose it.
  assert.ok(gcBlock.cpu >= gcBlock.own.thread * 0.75, `blk.cpu ${gcBlock.cpu} for a burn of ${gcBlock.own.thread.toFixed(2)} ms after a GC`)
})

test.run()
