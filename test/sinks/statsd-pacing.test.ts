/**
 * statsdSink paces its packets (util/paced-queue.ts): before, a flush of 3,000 records (15,000 lines, 225
 * packets) went out in one synchronous burst and a receiver on loopback kept 5,414 lines (64 % lost). Each
 * test below sends to a real UDP socket and counts lines: what arrived plus what the sink counted as dropped
 * is what was sent, to the line.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { metrics, statsdPublisher, statsdSink, type MetricRecord } from '../../src/index.js'
import type { OptionError } from '../../src/util/option-check.js'
import { Collector } from '../../src/collect/collector.js'
import { offClock } from '../../src/collect/cpu-clock.js'
import { createBatcher } from '../../src/pipeline/batcher.js'
import { register } from '../../src/pipeline/registry.js'
import { udpCollector } from '../support/udp.js'
import { until } from '../support/eventually.js'
import { runNode } from '../support/run-node.js'

/** `n` request records of distinct routes: five lines each (two timings, three counters). */
function records(n: number, route = 'r'): MetricRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: 'request', prefix: '', route: `${route}${i}`, method: 'GET', status: 200, aborted: false,
    dimensions: {}, counters: { Failure: 0, ClientError: 0, Aborted: 0 }, timers: { RequestTime: 1.5, CpuTime: 0.5 },
    timestamp: Date.now(),
  }))
}

const dropped = (reason: string): number => metrics.stats().dropped[reason] ?? 0

test('a flush of 3,000 records reaches a real UDP socket whole, paced at linesPerMs after the burst', async () => {
  const udp = await udpCollector()
  const sink = statsdSink({ port: udp.port })
  const before = { sink: dropped('sink'), close: dropped('close') }
  try {
    const started = performance.now()
    await sink.send(records(3000))
    await sink.flush()
    const elapsed = performance.now() - started
    // flush() resolved once the queue was empty and hot-shots had sent its buffer: the last lines are at most a
    // poll away, far less than the 140 ms the paced rest of the batch takes.
    await udp.waitFor((lines) => lines.length === 15_000, 200)
    // 1,000 lines leave at once, the other 14,000 at 100 a millisecond (the default).
    assert.ok(elapsed >= 14_000 / 100 - 5, `flushed in ${elapsed.toFixed(0)} ms: the lines were not paced`)
    assert.equal([dropped('sink') - before.sink, dropped('close') - before.close], [0, 0])
  } finally {
    await sink.close()
    udp.close()
  }
})

test('send() returns nothing for a batch within the burst, and a promise for a bigger one that settles as the queue drains', async () => {
  const udp = await udpCollector()
  const sink = statsdSink({ port: udp.port, burstLines: 1000 })
  try {
    assert.is(sink.send(records(100)), undefined, '500 lines fit the burst')
    await sink.flush()
    const started = performance.now()
    const pending = sink.send(records(1000, 'big'))
    assert.instance(pending, Promise, '5,000 lines do not fit the burst')
    await pending
    // It settles once at most 1,000 lines wait: 4,000 of the 5,000 lines left, at most 1,000 at once, the
    // rest at 100 a millisecond (the default).
    const elapsed = performance.now() - started
    assert.ok(elapsed >= 3000 / 100, `settled after ${elapsed.toFixed(0)} ms, before the queue drained to the burst`)
    await sink.flush()
    await udp.waitFor((lines) => lines.length === 500 + 5000, 200)
  } finally {
    await sink.close()
    udp.close()
  }
})

test('flush() under traffic above the pace resolves once what was queued when it began has left', async () => {
  const udp = await udpCollector()
  // 2 lines/ms, and a batch of 100 lines every 10 ms (10 lines/ms): the queue never empties while it runs.
  const sink = statsdSink({ port: udp.port, linesPerMs: 2, burstLines: 100 })
  let n = 0
  const traffic = setInterval(() => { void sink.send(records(20, `t${n++}-`)) }, 10)
  try {
    await new Promise((resolve) => setTimeout(resolve, 100))
    const started = performance.now()
    const flushed = await Promise.race([
      sink.flush().then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000)),
    ])
    // Waiting for an empty queue, this flush resolved only 18.6 s after such traffic stopped.
    assert.ok(flushed, `flush() still pending after ${(performance.now() - started).toFixed(0)} ms of steady traffic`)
  } finally {
    clearInterval(traffic)
    await sink.close()
    udp.close()
  }
})

test('past maxQueuedLines the newest packets are dropped, counted as sink (received + dropped = sent) and warned about', async () => {
  const udp = await udpCollector()
  const warnings: string[] = []
  const onWarning = (w: Error & { code?: string }): void => { warnings.push(`${w.code} ${w.message}`) }
  process.on('warning', onWarning)
  // 1 line a millisecond: the bucket refills while the 5,000 lines are encoded, and at the default 100 a
  // millisecond a loaded CI machine (≈ 5 ms for the encoding) let 544 more leave than the burst and the queue.
  const sink = statsdSink({ port: udp.port, burstLines: 100, maxQueuedLines: 500, linesPerMs: 1 })
  const before = dropped('sink')
  try {
    await sink.send(records(1000))
    await sink.flush()
    const lost = dropped('sink') - before
    // The burst (≤ 100 lines: no packet is bigger) left at once, at most 500 lines waited, the rest was dropped.
    assert.ok(lost >= 5000 - 600, `${lost} lines dropped`)
    await udp.waitFor((lines) => lines.length === 5000 - lost, 200)
    // Whole packets only: the first lines of the batch arrived, the last did not.
    assert.ok(udp.lines.includes('r0.RequestTime:1.5|ms') && !udp.lines.includes('r999.RequestTime:1.5|ms'))
    await new Promise((resolve) => setImmediate(resolve))
    assert.ok(warnings.some((w) => /^RM_STATSD_QUEUE_FULL .*maxQueuedLines 500.*dropped the newest \d+ lines/.test(w)), warnings.join('\n'))
  } finally {
    process.off('warning', onWarning)
    await sink.close()
    udp.close()
  }
})

test('close() sends what it can within closeTimeout, counts every line it gives up on as close, and counts sends after it', async () => {
  const udp = await udpCollector()
  const errors: Error[] = []
  // The first packet (67 lines) leaves at once (a packet bigger than the burst goes when the bucket is full),
  // the next only 67 ms later: a 30 ms bound gives up on everything after the first packet.
  const sink = statsdSink({ port: udp.port, linesPerMs: 1, burstLines: 1, closeTimeout: 30, onError: (e) => errors.push(e) })
  const before = dropped('close')
  try {
    const pending = sink.send(records(200))
    const started = performance.now()
    await sink.close()
    assert.ok(performance.now() - started < 1000, 'close() is bounded by closeTimeout')
    await pending // released by close(): the batcher is never left waiting
    const lost = dropped('close') - before
    await udp.waitFor((lines) => lines.length === 1000 - lost, 200)
    assert.ok(lost > 0 && lost < 1000, `${lost} of 1,000 lines counted as close`)
    assert.is(errors.length, 1)
    assert.match(errors[0]!.message, new RegExp(`gave up after 30 ms with ${lost} lines not sent`))

    assert.is(sink.send(records(2, 'late')), undefined, 'nothing to wait for after close()')
    assert.is(dropped('close') - before - lost, 10, 'a batch after close() is counted, line by line')
    assert.not.ok(udp.lines.some((l) => l.startsWith('late')))
  } finally {
    udp.close()
  }
})

test('a send the batcher gives up on at close is counted once, by the sink, in lines: received + dropped = sent', async () => {
  const udp = await udpCollector()
  // 1,000 lines, 100 of them at once, then 1 a millisecond: the send's promise (back-pressure) settles only after
  // 900 ms, so a batcher closing within 50 ms gives up on it. Its lines are already in the sink's queue.
  const sink = statsdSink({ port: udp.port, linesPerMs: 1, burstLines: 100, closeTimeout: 30, onError: () => {} })
  const toRecord = (c: Collector): MetricRecord => records(1, c.url)[0]!
  const b = createBatcher({ sink, toRecord, flushInterval: 60_000, batchSize: 200, maxBuffer: 10_000, onError: () => {} })
  const before = dropped('close')
  try {
    for (let i = 0; i < 200; i++) b.push(new Collector(offClock, null, `sent${i}`, 'GET', {}, 0))
    await until(() => udp.lines.length > 0, 'the first packet')
    for (let i = 0; i < 50; i++) b.push(new Collector(offClock, null, `kept${i}`, 'GET', {}, 0))
    await b.close(50)
    // Counting the 200 records of the send as well counted their 1,000 lines twice, once in each unit.
    assert.equal(b.dropped(), { buffer: 0, sink: 0, close: 50 }, 'the batcher counts only the records it never handed over')
    await sink.close()
    const linesDropped = dropped('close') - before - 50
    await udp.waitFor((lines) => lines.length === 1000 - linesDropped, 200)
    assert.ok(linesDropped > 0, 'the sink gave up on some lines at its own bound')
    assert.not.ok(udp.lines.some((l) => l.startsWith('kept')))
  } finally {
    await sink.close()
    udp.close()
  }
})

test('metrics.close() gives the sink what is left of its bound: the lines it gives up on are counted when it resolves', async () => {
  const udp = await udpCollector()
  // closeTimeout stays at its default, 3 s, while 1,000 lines at 1 a millisecond take a second to leave.
  const sink = statsdSink({ port: udp.port, linesPerMs: 1, burstLines: 1, onError: () => {} })
  const toRecord = (c: Collector): MetricRecord => records(1, c.url)[0]!
  const b = createBatcher({ sink, toRecord, flushInterval: 60_000, batchSize: 1000, maxBuffer: 10_000, onError: () => {} })
  register(b)
  const before = dropped('close')
  try {
    for (let i = 0; i < 200; i++) b.push(new Collector(offClock, null, `r${i}`, 'GET', {}, 0))
    const started = performance.now()
    await metrics.close(300)
    const took = performance.now() - started
    // Read at once: before, the sink still waited out its own 3 s here, and had counted nothing.
    const lost = dropped('close') - before
    assert.ok(lost > 0 && lost < 1000, `${lost} of 1,000 lines counted as close when metrics.close() resolved`)
    assert.ok(took < 1000, `metrics.close(300) took ${took} ms`)
    await udp.waitFor((lines) => lines.length === 1000 - lost, 200)
  } finally {
    udp.close()
  }
})

test('bad linesPerMs, burstLines, maxQueuedLines and closeTimeout throw the TypeError statsdPublisher throws for the same value', () => {
  const cases: Array<[string, unknown]> = [
    ['linesPerMs', 0], ['linesPerMs', -1], ['linesPerMs', Number.NaN], ['linesPerMs', '40'],
    ['burstLines', 0], ['burstLines', 1.5], ['burstLines', 'many'],
    ['maxQueuedLines', -1], ['maxQueuedLines', 0.5], ['maxQueuedLines', true],
    ['closeTimeout', -1], ['closeTimeout', 2 ** 31], ['closeTimeout', Number.NaN],
  ]
  const reasonOf = (make: () => unknown): string => {
    try {
      make()
    } catch (error) {
      assert.instance(error, TypeError)
      return `${(error as OptionError).option}: ${(error as OptionError).reason}`
    }
    throw new Error('no TypeError')
  }
  for (const [option, value] of cases) {
    const reason = reasonOf(() => statsdSink({ [option]: value }))
    assert.ok(reason.startsWith(`${option}: must be `), reason)
    if (option === 'linesPerMs' || option === 'burstLines') {
      assert.is(reason, reasonOf(() => statsdPublisher({ [option]: value })), `${option} = ${String(value)}`)
    }
  }
})

test('a queue still waiting does not hold the process open, and `await flush()` before exiting sends all of it', async () => {
  const udp = await udpCollector()
  try {
    const run = (flush: boolean) => runNode(['--import', 'tsx', '-e', `
      const { statsdSink } = require('./src/index.ts')
      const sink = statsdSink({ port: ${udp.port}, linesPerMs: ${flush ? 40 : 0.001} })
      const batch = Array.from({ length: 6000 }, (_, i) => ({ kind: 'request', prefix: '', route: '${flush ? 'flushed' : 'left'}' + i,
        method: 'GET', status: 200, aborted: false, dimensions: {}, counters: {}, timers: { RequestTime: 1 }, timestamp: Date.now() }))
      sink.send(batch)
      ${flush ? 'sink.flush().then(() => console.log("flushed"))' : ''}
    `], { timeoutMs: 15_000 })
    // 6,000 lines, one per record: 1,000 leave at once and 5,000 wait. Unflushed, the 0.001 lines/ms queue
    // would take days: the process ends without it.
    const left = await run(false)
    assert.is(left.code, 0, left.stderr)
    // Flushed, nothing else keeps that process alive but the flush itself (125 ms at 40 lines/ms).
    const flushed = await run(true)
    assert.equal([flushed.code, flushed.stdout], [0, 'flushed\n'], flushed.stderr)
    await udp.waitFor((lines) => lines.filter((l) => l.startsWith('flushed')).length === 6000, 500)
  } finally {
    udp.close()
  }
})

test.run()
