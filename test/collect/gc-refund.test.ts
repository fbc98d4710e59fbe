import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { memorySink, withMetrics } from '../../src/index.js'
import { keepStretch, refundPause, type Refundable } from '../../src/collect/gc-refund.js'
import { fetchText, httpServer, listen } from '../support/http.js'
import { sleep } from '../support/eventually.js'
import { flushSink } from '../../src/pipeline/registry.js'
import { threadCpuClock } from '../../src/collect/cpu-thread.js'

const slot = (onThread: number, closed = false, cpu = 0): Refundable => ({ onThread, closed, cpu })

test('a pause gives back the overlap of each stretch it fell in, at most what the stretch was charged', () => {
  const a = slot(5)
  const b = slot(3)
  // Stretches far in the future of any real one, so the ring's other entries (older) are never touched.
  const t = 1e12
  keepStretch(a, t, t + 4, 4) // a held 4 ms
  keepStretch(b, t + 4, t + 6, 1.5) // b held 2 ms of wall time, charged 1.5 (capped by the thread's CPU)
  // A pause from t+3 to t+7: 1 ms of a's stretch, 2 ms of b's (capped at its 1.5).
  assert.is(refundPause(t + 3, 4), 2.5)
  assert.is(a.onThread, 4)
  assert.is(b.onThread, 1.5)
  // Given back once: the same pause again finds nothing left in b and only a's overlap, already taken.
  assert.is(refundPause(t + 4, 3), 0)
  assert.is(b.onThread, 1.5)
})

test('a refund after the request ended lowers its fixed CpuTime too, never below zero', () => {
  const closed = slot(2, true, 2)
  const t = 2e12
  keepStretch(closed, t, t + 2, 2)
  assert.is(refundPause(t - 1, 10), 2)
  assert.is(closed.onThread, 0)
  assert.is(closed.cpu, 0)
})

test('a pause before every kept stretch gives nothing back', () => {
  const s = slot(1)
  const t = 3e12
  keepStretch(s, t, t + 1, 1)
  assert.is(refundPause(t - 10, 5), 0)
  assert.is(s.onThread, 1)
})

/*
 * The real thing: a request that only waits, except that one of its callbacks runs a full garbage collection
 * of a heap made big on purpose. V8 reports the pause to the 'gc' observer; the request must not be billed it.
 */
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
setFlagsFromString('--no-expose-gc')

test('a full garbage collection run inside a request is not billed to it', async () => {
  // A million live objects: a full GC takes tens of milliseconds on this kind of machine.
  const heap = Array.from({ length: 1_000_000 }, (_, i) => ({ i, s: `v${i}` }))
  const thread = threadCpuClock()
  let pauseMs = 0
  let pauseCpuMs = 0
  const sink = memorySink()
  const { url, close } = await listen(httpServer(withMetrics(async (req, res) => {
    await sleep(5)
    if (req.url !== '/gc') return void res.end('warm')
    const wall = performance.now()
    const cpu = thread.read()
    gc()
    pauseCpuMs = (thread.read() - cpu) / 1000
    pauseMs = performance.now() - wall
    await sleep(5)
    res.end('ok')
  }, { sink })))
  try {
    // First requests of a fresh server compile their code: their CpuTime is not the point here.
    for (let i = 0; i < 5; i++) await fetchText(url + '/warm')
    await flushSink(sink)
    sink.clear()
    await fetchText(url + '/gc')
    await sleep(50) // the pause is reported a loop turn after it ended
    await flushSink(sink)
    const [record] = sink.records()
    assert.ok(pauseMs > 10, `the collection should take a while (took ${pauseMs.toFixed(1)} ms)`)
    const cpuTime = record!.timers.CpuTime!
    assert.ok(cpuTime < 2, `CpuTime ${cpuTime.toFixed(2)} ms for a request whose only work was a GC of ` +
      `${pauseMs.toFixed(1)} ms (${pauseCpuMs.toFixed(1)} ms of thread CPU)`)
  } finally {
    await close()
  }
  assert.is(heap.length, 1_000_000) // alive until here: the collection had all of it to mark
})

test.run()
