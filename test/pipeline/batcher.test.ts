import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Collector } from '../../src/collect/collector.js'
import { offClock } from '../../src/collect/cpu-clock.js'
import type { MetricRecord } from '../../src/wire/record.js'
import { createBatcher } from '../../src/pipeline/batcher.js'
import type { Sink } from '../../src/sinks/sink.js'
import { metrics } from '../../src/index.js'
import { sleep, until } from '../support/eventually.js'

const toRecord = (c: Collector) => ({ route: c.url }) as unknown as MetricRecord
const collector = (i: number) => new Collector(offClock, null, String(i), 'GET', {}, 0)

function slowSink(delayMs: number) {
  const batches: MetricRecord[][] = []
  let inFlight = 0
  let maxInFlight = 0
  const sink: Sink = {
    async send(batch) {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      await sleep(delayMs) // a slow sink: the time a send takes is the subject
      batches.push(batch)
      inFlight--
    },
    async flush() {},
    async close() {},
  }
  return { sink, batches, maxInFlight: () => maxInFlight }
}

test('push never sends on the request path; a full batch is sent in a later macrotask', async () => {
  const { sink, batches } = slowSink(0)
  const b = createBatcher({ sink, toRecord, flushInterval: 60_000, batchSize: 3, maxBuffer: 100, onError: () => {} })
  b.push(collector(1))
  b.push(collector(2))
  b.push(collector(3))
  assert.is(batches.length, 0)
  await new Promise((r) => setImmediate(r))
  await b.flush()
  assert.equal(batches.map((x) => x.length), [3])
  await b.close()
})

test('the interval counts from the last flush: after a full batch, the next timed flush is a whole interval off', async () => {
  // A timer that ignored size-triggered flushes sent the records after a full batch at its own next tick, which
  // here came ≈ 400 ms after the full batch; now they wait a whole interval from it. Timers only run late, so a
  // loaded machine can only widen the gap measured.
  const sent: Array<{ at: number, size: number }> = []
  const sink: Sink = { async send(batch) { sent.push({ at: performance.now(), size: batch.length }) }, async flush() {}, async close() {} }
  const b = createBatcher({ sink, toRecord, flushInterval: 1000, batchSize: 10, maxBuffer: 100, onError: () => {} })
  await sleep(600)
  for (let i = 0; i < 10; i++) b.push(collector(i))
  await until(() => sent.length === 1, 'the full batch sent')
  for (let i = 10; i < 13; i++) b.push(collector(i))
  await until(() => sent.length === 2, 'the rest sent by the timer', 5000)
  await b.close()
  assert.equal(sent.map((s) => s.size), [10, 3])
  const gap = sent[1]!.at - sent[0]!.at
  assert.ok(gap >= 990, `the timer flushed ${gap.toFixed(0)} ms after the full batch, less than the 1000 ms interval`)
})

test('never two sends at once: records arriving during a send wait for the next one', async () => {
  const { sink, batches, maxInFlight } = slowSink(20)
  const b = createBatcher({ sink, toRecord, flushInterval: 5, batchSize: 2, maxBuffer: 1000, onError: () => {} })
  for (let i = 0; i < 50; i++) {
    b.push(collector(i))
    if (i % 5 === 0) await sleep(3) // records arrive over time, some of them while a send is in flight
  }
  await b.flush()
  await b.close()
  assert.is(maxInFlight(), 1)
  assert.is(batches.flat().length, 50)
  assert.equal(batches.flat().map((r) => r.route), Array.from({ length: 50 }, (_, i) => String(i)))
})

test('a full buffer drops the oldest records and counts them', async () => {
  const before = metrics.stats().dropped.buffer ?? 0
  const { sink, batches } = slowSink(50)
  const b = createBatcher({ sink, toRecord, flushInterval: 60_000, batchSize: 10, maxBuffer: 100, onError: () => {} })
  b.push(collector(-1))
  for (let i = 0; i < 9; i++) b.push(collector(-1))
  // A full batch is built two loop turns later (see batcher.ts): then the first send is in flight for 50 ms.
  for (let turn = 0; turn < 3; turn++) await new Promise((r) => setImmediate(r))
  for (let i = 0; i < 1000; i++) b.push(collector(i))
  await b.flush()
  await b.close()
  // Past maxBuffer (at 101 buffered) a push drops the excess and a tenth more, the oldest 11: the 1,000 pushes
  // made during the send drop 82 × 11 = 902 records and leave 98, sent after the first 10.
  assert.equal(b.dropped(), { buffer: 902, sink: 0, close: 0 })
  assert.is((metrics.stats().dropped.buffer ?? 0) - before, 902)
  assert.equal(batches.map((x) => x.length), [10, 98])
  assert.equal(batches[1]!.map((r) => r.route), Array.from({ length: 98 }, (_, i) => String(902 + i)), 'the newest survive')
})

test('a failing sink goes to onError and its batch is counted as dropped; the next batch still goes', async () => {
  const errors: Error[] = []
  let calls = 0
  const sink: Sink = {
    send(batch) {
      calls++
      if (calls === 1) throw new Error('sink down')
      assert.is(batch.length, 1)
    },
    async flush() {},
    async close() {},
  }
  const before = metrics.stats().dropped.sink ?? 0
  const b = createBatcher({ sink, toRecord, flushInterval: 60_000, batchSize: 100, maxBuffer: 100, onError: (e) => errors.push(e) })
  b.push(collector(1))
  b.push(collector(2))
  await b.flush()
  b.push(collector(3))
  await b.flush()
  await b.close()
  assert.equal(errors.map((e) => e.message), ['sink down'])
  assert.is((metrics.stats().dropped.sink ?? 0) - before, 2)
  assert.is(calls, 2)
})

test('a sink rejecting with a non-Error, and an onError that throws, never crash the process', async () => {
  const seen: Error[] = []
  let calls = 0
  const sink: Sink = {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the subject: a sink that rejects with a non-Error
    send: () => Promise.reject(calls++ === 0 ? undefined : 'text'),
    flush: async () => {},
    close: async () => {},
  }
  const onError = (e: Error): void => { seen.push(e); throw new Error('handler bug') }
  const b = createBatcher({ sink, toRecord, flushInterval: 60_000, batchSize: 1, maxBuffer: 100, onError })
  b.push(collector(1))
  await until(() => seen.length === 1, 'the first failure reported')
  b.push(collector(2))
  await until(() => seen.length === 2, 'the second failure reported')
  await b.close()
  assert.equal(seen.map((e) => [e instanceof Error, e.message]), [
    [true, 'routemeter: non-Error failure: undefined'], [true, 'routemeter: non-Error failure: "text"'],
  ])
})

test('close() twice waits for the same close; records pushed after it are counted as close drops', async () => {
  const { sink, batches } = slowSink(30)
  const b = createBatcher({ sink, toRecord, flushInterval: 60_000, batchSize: 100, maxBuffer: 100, onError: () => {} })
  b.push(collector(1))
  const first = b.close()
  const second = b.close()
  await second
  assert.equal(batches.flat().map((r) => r.route), ['1'], 'the second close waited for the flush of the first')
  await first
  const before = metrics.stats().dropped.close ?? 0
  b.push(collector(2))
  assert.is((metrics.stats().dropped.close ?? 0) - before, 1)
})

test('close is bounded even when the sink hangs forever', async () => {
  const sink: Sink = { send: () => new Promise(() => {}), flush: async () => {}, close: async () => {} }
  const b = createBatcher({ sink, toRecord, flushInterval: 60_000, batchSize: 100, maxBuffer: 100, onError: () => {} })
  b.push(collector(1))
  const started = Date.now()
  await b.close(100)
  assert.ok(Date.now() - started < 1000)
})

test('close() counts what it abandons: the buffer and the batch a hung sink never settled, as close drops', async () => {
  const delivered: MetricRecord[] = []
  let sends = 0
  // The first send is delivered; every later one never settles.
  const sink: Sink = {
    send(batch) {
      if (sends++ > 0) return new Promise(() => {})
      delivered.push(...batch)
    },
    flush: async () => {},
    close: async () => {},
  }
  const before = metrics.stats().dropped
  const options = { sink, toRecord, flushInterval: 60_000, batchSize: 100, maxBuffer: 10_000, onError: () => {} }
  const b = createBatcher(options)
  let pushed = 0
  for (let i = 0; i < 100; i++, pushed++) b.push(collector(i))
  await b.flush()
  for (let i = 0; i < 100; i++, pushed++) b.push(collector(i))
  while (sends < 2) await new Promise((r) => setImmediate(r)) // the second batch is now in the hung send
  for (let i = 0; i < 1800; i++, pushed++) b.push(collector(i))
  await b.close(50)
  assert.is(delivered.length, 100)
  assert.equal(b.dropped(), { buffer: 0, sink: 0, close: pushed - delivered.length }, 'every record close() gave up on is counted, once')
  // The process-wide totals carry them too (other batchers of the same process may add to them meanwhile).
  assert.ok((metrics.stats().dropped.close ?? 0) - (before.close ?? 0) >= pushed - delivered.length)
  b.push(collector(0))
  assert.is(b.dropped().close, pushed - delivered.length + 1, 'a push after close is counted too')
})

test('a hung send that fails after close() gave up on it is not counted a second time', async () => {
  let fail!: (error: Error) => void
  const errors: Error[] = []
  const sink: Sink = { send: () => new Promise((_resolve, reject) => (fail = reject)), flush: async () => {}, close: async () => {} }
  const onError = (e: Error) => void errors.push(e)
  const b = createBatcher({ sink, toRecord, flushInterval: 60_000, batchSize: 10, maxBuffer: 100, onError })
  for (let i = 0; i < 10; i++) b.push(collector(i))
  while (fail === undefined) await new Promise((r) => setImmediate(r))
  await b.close(20)
  fail(new Error('late failure'))
  while (errors.length === 0) await new Promise((r) => setImmediate(r))
  assert.equal(b.dropped(), { buffer: 0, sink: 0, close: 10 })
  assert.equal(errors.map((e) => e.message), ['late failure'], 'the failure is still reported')
})

test('close() flushes and stops, and leaves the sink open: sinks are closed by the registry, once each', async () => {
  let closed = 0
  const sent: string[] = []
  const sink: Sink = {
    send: (batch) => { sent.push(...batch.map((r) => r.route)) }, flush: async () => {}, close: async () => { closed++ },
  }
  const b = createBatcher({ sink, toRecord, flushInterval: 60_000, batchSize: 100, maxBuffer: 100, onError: () => {} })
  b.push(collector(1))
  await b.close()
  assert.equal(sent, ['1'])
  assert.is(closed, 0)
})

test('process records ride along while due(), even with nothing buffered', async () => {
  const sent: string[][] = []
  const sink: Sink = { send: (batch) => { sent.push(batch.map((r) => r.route)) }, flush: async () => {}, close: async () => {} }
  let due = true
  const processRecords = { due: () => due, take: () => ({ route: 'process' }) as unknown as MetricRecord }
  const b = createBatcher({ sink, toRecord, flushInterval: 60_000, batchSize: 100, maxBuffer: 100, onError: () => {}, processRecords })
  await b.flush()
  b.push(collector(1))
  await b.flush()
  due = false
  await b.flush()
  b.push(collector(2))
  await b.flush()
  assert.equal(sent, [['process'], ['1', 'process'], ['2']])
  await b.close()
})

test.run()
