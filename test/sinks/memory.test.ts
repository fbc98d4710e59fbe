import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { memorySink, metrics } from '../../src/index.js'
import { OptionError } from '../../src/util/option-check.js'
import { record, sinkContract } from './contract.js'

sinkContract('memorySink', async () => {
  const sink = memorySink()
  return { sink, delivered: async (route) => sink.records().filter((r) => r.route === route).length }
})

test('memorySink keeps the newest max records and counts the rest as dropped', async () => {
  const before = metrics.stats().dropped.sink ?? 0
  const sink = memorySink({ max: 3 })
  await sink.send([1, 2, 3, 4, 5].map((n) => record({ status: n })))
  assert.equal(sink.records().map((r) => r.status), [3, 4, 5])
  assert.is((metrics.stats().dropped.sink ?? 0) - before, 2)
  sink.clear()
  assert.equal(sink.records(), [])
})

test('a full sink keeps replacing the oldest, in order, across many batches', async () => {
  const sink = memorySink({ max: 4 })
  for (let n = 1; n <= 11; n++) await sink.send([record({ status: n })])
  assert.equal(sink.records().map((r) => r.status), [8, 9, 10, 11])
  await sink.send([6, 7].map((n) => record({ status: 100 + n })))
  assert.equal(sink.records().map((r) => r.status), [10, 11, 106, 107])
  sink.clear()
  await sink.send([record({ status: 1 })])
  assert.equal(sink.records().map((r) => r.status), [1])
})

test('records() is a copy: changing it does not change the sink', async () => {
  const sink = memorySink()
  await sink.send([record()])
  sink.records().pop()
  assert.is(sink.records().length, 1)
})

test('a bad max is an OptionError (a TypeError) naming the option', () => {
  assert.throws(() => memorySink({ max: 0 }), (e: unknown) => e instanceof TypeError && e instanceof OptionError &&
    e.owner === 'memorySink' && e.option === 'max' &&
    e.message === 'routemeter: memorySink option "max" must be an integer of at least 1, got 0')
  assert.throws(() => memorySink({ max: 1.5 }), (e: unknown) => e instanceof OptionError && e.option === 'max')
  assert.throws(() => memorySink(7 as never), (e: unknown) => e instanceof OptionError && e.option === 'options')
})

test.run()
