import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Collector } from '../../src/collect/collector.js'
import { offClock } from '../../src/collect/cpu-clock.js'
import { createBatcher, type Batcher } from '../../src/pipeline/batcher.js'
import { closeAll, closeBound, flushAll, flushSink, register } from '../../src/pipeline/registry.js'
import type { Sink } from '../../src/sinks/sink.js'
import type { MetricRecord } from '../../src/wire/record.js'
import { sleep } from '../support/eventually.js'

// The registry is the process' own: closeAll() here also closes what earlier suites left registered, which is
// what it does in an app too. Nothing here needs a service.

const toRecord = (c: Collector) => ({ route: c.url }) as unknown as MetricRecord
const collector = (route: string) => new Collector(offClock, null, route, 'GET', {}, 0)

/** A sink that writes what happens to it, in order, into `log`. */
function loggingSink(name: string, log: string[], over: Partial<Sink> = {}): Sink {
  return {
    send(batch) { log.push(`${name}.send ${batch.map((r) => r.route).join(',')}`) },
    async flush() { log.push(`${name}.flush`) },
    async close() { log.push(`${name}.close`) },
    ...over,
  }
}

function batcher(sink: Sink, onError: (e: Error) => void = () => {}): Batcher {
  const b = createBatcher({ sink, toRecord, flushInterval: 3_600_000, batchSize: 100, maxBuffer: 1000, onError })
  register(b)
  return b
}

test('flushAll: every batcher sends first, then every distinct sink flushes once', async () => {
  await closeAll(1000) // a clean registry
  const log: string[] = []
  const shared = loggingSink('shared', log)
  const own = loggingSink('own', log)
  const a = batcher(shared)
  const b = batcher(shared)
  const c = batcher(own)
  a.push(collector('a'))
  b.push(collector('b'))
  c.push(collector('c'))
  await flushAll()
  assert.equal(log, ['shared.send a', 'shared.send b', 'own.send c', 'shared.flush', 'own.flush'])
  await closeAll(1000)
})

test('flushSink: only the batchers feeding that sink, then that sink', async () => {
  await closeAll(1000)
  const log: string[] = []
  const one = loggingSink('one', log)
  const other = loggingSink('other', log)
  batcher(one).push(collector('x'))
  batcher(other).push(collector('y'))
  await flushSink(one)
  assert.equal(log, ['one.send x', 'one.flush'])
  await closeAll(1000)
})

test('closeAll closes a sink shared by two batchers once, after both have sent', async () => {
  await closeAll(1000)
  const log: string[] = []
  // A send that takes a while: the shared sink must not be closed while the second batcher still sends.
  let sends = 0
  const shared = loggingSink('shared', log, {
    async send(batch) {
      await sleep(sends++ === 0 ? 30 : 0)
      log.push(`shared.send ${batch.map((r) => r.route).join(',')}`)
    },
  })
  const a = batcher(shared)
  const b = batcher(shared)
  a.push(collector('a'))
  b.push(collector('b'))
  await closeAll(1000)
  assert.equal(log.slice(-1), ['shared.close'])
  assert.equal(log.filter((l) => l === 'shared.close').length, 1)
  assert.equal(log.slice(0, -1).sort(), ['shared.send a', 'shared.send b'])
  a.push(collector('late'))
  assert.equal(a.dropped().close, 1, 'a push after closeAll is a counted close drop')
})

test("closeAll keeps its bound when a sink's close never ends, and reports a failing close to the batcher's onError", async () => {
  await closeAll(1000)
  const errors: string[] = []
  const hung = loggingSink('hung', [], { close: () => new Promise<void>(() => {}) })
  const failing = loggingSink('failing', [], { close: () => Promise.reject(new Error('close failed')) })
  batcher(hung)
  batcher(failing, (e) => errors.push(e.message))
  const started = Date.now()
  await closeAll(150)
  const took = Date.now() - started
  assert.ok(took >= 140 && took < 1000, `bounded by its timeout: took ${took} ms`)
  assert.equal(errors, ['close failed'])
})

test('a sink is told what is left of the bound; a bound that is not a number is the default, a negative one 0', async () => {
  await closeAll(1000)
  const told: Array<number | undefined> = []
  const sink = (): Sink => loggingSink('s', [], { close: async (timeoutMs) => { told.push(timeoutMs) } })
  batcher(sink())
  await closeAll(400)
  batcher(sink())
  await closeAll(Number.NaN)
  batcher(sink())
  const started = Date.now()
  await closeAll(-5)
  assert.ok(Date.now() - started < 500, 'a negative bound is 0')
  assert.is(told.length, 3)
  assert.ok(told[0]! > 300 && told[0]! <= 400, `told ${told[0]} of 400`)
  // NaN told every sink to give up at once (a timer of NaN ms fires after 1).
  assert.ok(told[1]! > 4000 && told[1]! <= 5000, `told ${told[1]} for NaN`)
  assert.is(told[2], 0)
  assert.is(closeBound(2 ** 40), 2 ** 31 - 1 - 50)
})

test('the first registered batcher is the primary one, until the registry is emptied', async () => {
  await closeAll(1000)
  const sink = loggingSink('s', [])
  const first = createBatcher({ sink, toRecord, flushInterval: 3_600_000, batchSize: 10, maxBuffer: 10, onError: () => {} })
  const second = createBatcher({ sink, toRecord, flushInterval: 3_600_000, batchSize: 10, maxBuffer: 10, onError: () => {} })
  const firstIsPrimary = register(first)
  const secondIsPrimary = register(second)
  assert.equal([firstIsPrimary(), secondIsPrimary()], [true, false])
  await closeAll(1000)
  assert.equal([firstIsPrimary(), secondIsPrimary()], [false, false])
})

test.run()
