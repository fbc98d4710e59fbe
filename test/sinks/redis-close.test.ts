/**
 * What a Redis sink's close() gives up on is counted, like the batcher's: no Redis is needed, since the
 * point is a Redis that never answers (a loopback port nothing listens on).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { redisSink } from '../../src/sinks/redis.js'
import { dropTotals } from '../../src/util/drops.js'

const record = (i: number): MetricRecord => ({
  kind: 'request', prefix: '', route: 'users.id', method: 'GET', status: 200, aborted: false, dimensions: {},
  counters: { Failure: 0, ClientError: 0, Aborted: 0 }, timers: { RequestTime: i }, timestamp: Date.now(),
})

test('close() counts the backlog it could not deliver, and records sent after close, as close drops', async () => {
  const errors: string[] = []
  const sink = redisSink({ url: 'redis://127.0.0.1:1', flushTimeoutMs: 50, connectTimeoutMs: 50, onError: (e) => errors.push(e.message) })
  const before = dropTotals().close ?? 0
  await sink.send(Array.from({ length: 120 }, (_, i) => record(i)))
  await sink.close()
  // The process-wide total may also move with other sinks closing in the same run: at least ours is in it.
  assert.is(sink.stats().droppedClose, 120)
  assert.ok((dropTotals().close ?? 0) - before >= 120)
  assert.ok(errors.some((m) => m.includes('closed with 120 records not delivered')), errors.join('\n'))
  await sink.send([record(1), record(2)])
  assert.is(sink.stats().droppedClose, 122)
  assert.ok((dropTotals().close ?? 0) - before >= 122)
  assert.is(sink.stats().backlog, 0)
})

test('a batch whose encoding throws (a hand-built record) is counted as a sink drop, never thrown', async () => {
  const errors: string[] = []
  const sink = redisSink({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 50, onError: (e) => errors.push(e.message) })
  const before = dropTotals().sink ?? 0
  // A getter that throws: the encoder reads the dimensions and fails on this record.
  const hostile = { ...record(1), dimensions: Object.defineProperty({}, 'tenant', { enumerable: true, get() { throw new Error('boom') } }) }
  await sink.send([record(0), hostile as MetricRecord])
  assert.ok((dropTotals().sink ?? 0) - before >= 2)
  assert.ok(errors.some((m) => m.includes('2 records dropped (counted: sink)') && m.includes('boom')), errors.join('\n'))
  await sink.close()
})

test.run()
