/**
 * The Redis sink's delivery on its own: a test XADD function whose calls the test settles one by one, and a
 * connection whose state the test sets. No Redis needed; every step waits for the delivery's own promises.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { DROPPED_BACKLOG_COUNTER, MAX_IN_FLIGHT, redisDelivery, type DeliveryOptions } from '../../src/sinks/redis-delivery.js'
import type { ConnectionState } from '../../src/sinks/redis-connection.js'
import { decodeEntry, toRecords, type EncodedEntry } from '../../src/wire/stream-encoding.js'

const test = suite('redis delivery')

/** Lets every promise callback that is ready run (the XADD handlers), without waiting for time. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const record = (timestamp: number, dimensions: Record<string, string> = { service: 'shop' }): MetricRecord => ({
  kind: 'request', prefix: 'web', route: 'users.id', method: 'GET', status: 200, aborted: false, dimensions,
  counters: { Failure: 0 }, timers: { RequestTime: 1 }, timestamp,
})

interface Call { entry: EncodedEntry, resolve(): void, reject(error: Error): void }

function harness(options: Partial<DeliveryOptions> = {}, state: ConnectionState = 'up') {
  const calls: Call[] = []
  const reports: string[] = []
  const connection = {
    state, opened: 0, closed: 0,
    open() { this.opened++ },
    async close() { this.closed++; this.state = 'closed' as ConnectionState },
  }
  const delivery = redisDelivery({
    connection,
    xadd: (entry) => new Promise<void>((resolve, reject) => { calls.push({ entry, resolve, reject }) }),
    // v=1: one record per send is one entry whose timestamp names it.
    maxBacklog: 1000, maxEntryBytes: 4096, encoding: 1, flushTimeoutMs: 60_000, destination: 'Redis at test',
    report: (m) => { reports.push(m) },
    ...options,
  })
  return { delivery, calls, reports, connection }
}

/** The timestamps of the request records in an entry; the counter of a drop report as `drop:<count>`. */
function named(entry: EncodedEntry): string[] {
  return toRecords(decodeEntry(entry.v, entry.p))
    .map((r) => r.kind === 'process' ? `drop:${r.counters[DROPPED_BACKLOG_COUNTER]}` : String(r.timestamp))
}

/** Whether `promise` has settled, read after `settle()`. */
function track(promise: Promise<unknown>): { done: boolean } {
  const state = { done: false }
  void promise.then(() => { state.done = true })
  return state
}

test('at most 32 XADDs are in flight; each one acknowledged lets the next go', async () => {
  const { delivery, calls } = harness()
  for (let i = 0; i < 40; i++) delivery.send([record(i)])
  assert.is(MAX_IN_FLIGHT, 32)
  assert.is(calls.length, 32)
  assert.is(delivery.stats().backlog, 8)
  calls[0].resolve()
  await settle()
  assert.is(calls.length, 33)
  for (const call of calls.slice(1)) call.resolve()
  await settle()
  for (const call of calls.slice(33)) call.resolve()
  await settle()
  assert.equal(calls.map((c) => named(c.entry)[0]), Array.from({ length: 40 }, (_, i) => String(i)))
  assert.equal(delivery.stats(), { delivered: 40, entries: 40, backlog: 0, droppedBacklog: 0, droppedOversize: 0, droppedClose: 0 })
})

test('the first send of an idle delivery opens the connection; nothing is sent until it is up', async () => {
  const { delivery, calls, connection } = harness({}, 'idle')
  delivery.send([record(1)])
  assert.is(connection.opened, 1)
  assert.is(calls.length, 0)
  connection.state = 'up'
  delivery.wake()
  assert.equal(calls.map((c) => named(c.entry)), [['1']])
})

test('failed XADDs go back in front in the order they left, before anything sent meanwhile, once the connection is back', async () => {
  const { delivery, calls, connection } = harness()
  for (let i = 0; i < 5; i++) delivery.send([record(i)])
  assert.is(calls.length, 5)
  // The connection breaks: one reply had arrived, the others fail (here even out of order).
  connection.state = 'down'
  calls[1].resolve()
  for (const i of [4, 0, 3, 2]) calls[i].reject(new Error('connection lost'))
  delivery.send([record(5)])
  await settle()
  assert.is(delivery.stats().backlog, 5)
  assert.is(delivery.stats().delivered, 1)
  assert.is(calls.length, 5, 'nothing is sent while down')
  connection.state = 'up'
  delivery.wake()
  assert.equal(calls.slice(5).map((c) => named(c.entry)[0]), ['0', '2', '3', '4', '5'])
  for (const call of calls.slice(5)) call.resolve()
  await settle()
  assert.equal(delivery.stats(), { delivered: 6, entries: 6, backlog: 0, droppedBacklog: 0, droppedOversize: 0, droppedClose: 0 })
})

test('backlog drops are counted and go as one process record ahead of the backlog, sent again after a failure', async () => {
  const { delivery, calls, reports, connection } = harness({ maxBacklog: 2 }, 'down')
  for (let i = 0; i < 5; i++) delivery.send([record(i, { service: 'shop' })])
  assert.equal(delivery.stats(), { delivered: 0, entries: 0, backlog: 2, droppedBacklog: 3, droppedOversize: 0, droppedClose: 0 })
  connection.state = 'up'
  delivery.wake()
  assert.equal(calls.map((c) => named(c.entry)), [['drop:3'], ['3'], ['4']])
  const report = toRecords(decodeEntry(calls[0].entry.v, calls[0].entry.p))[0]
  assert.equal(
    { kind: report.kind, prefix: report.prefix, dimensions: report.dimensions },
    { kind: 'process', prefix: 'web', dimensions: { service: 'shop' } },
  )
  connection.state = 'down'
  for (const call of calls) call.reject(new Error('connection lost'))
  await settle()
  connection.state = 'up'
  delivery.wake()
  assert.equal(calls.slice(3).map((c) => named(c.entry)), [['drop:3'], ['3'], ['4']])
  for (const call of calls.slice(3)) call.resolve()
  await settle()
  assert.equal(delivery.stats(), { delivered: 2, entries: 3, backlog: 0, droppedBacklog: 3, droppedOversize: 0, droppedClose: 0 })
  assert.equal(reports.filter((m) => m.includes('were dropped')), [
    '3 records were dropped: the backlog (maxBacklog 2) was full while Redis was unreachable or slower than the app ' +
      `(counter ${DROPPED_BACKLOG_COUNTER})`,
  ])
})

test('flush() settles with the last acknowledgement, at once when nothing waits, and when the connection goes down', async () => {
  const { delivery, calls, connection } = harness()
  const idle = track(delivery.flush())
  await settle()
  assert.is(idle.done, true, 'nothing to deliver')

  for (let i = 0; i < 3; i++) delivery.send([record(i)])
  const flushed = track(delivery.flush())
  calls[0].resolve()
  calls[1].resolve()
  await settle()
  assert.is(flushed.done, false, 'one XADD is still in flight')
  calls[2].resolve()
  await settle()
  assert.is(flushed.done, true)

  delivery.send([record(3)])
  const lost = track(delivery.flush())
  connection.state = 'down'
  calls[3].reject(new Error('connection lost'))
  delivery.wake()
  await settle()
  assert.is(lost.done, true, 'a flush does not wait out an outage')
  assert.is(delivery.stats().backlog, 1)
})

test('a flush() that gave up waiting leaves nothing behind, however many pile up behind an XADD that never returns', async () => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const { delivery, calls } = harness({ flushTimeoutMs: 1 })
  delivery.send([record(1)])
  assert.is(calls.length, 1)
  const heap = (): number => { gc(); return process.memoryUsage().heapUsed }
  const before = heap()
  for (let round = 0; round < 5; round++) {
    await Promise.all(Array.from({ length: 10_000 }, () => delivery.flush()))
  }
  const grown = heap() - before
  // Each gave-up waiter stayed in a list until the XADD settled: ≈ 420 bytes a call, 21 MB for these 50,000.
  assert.ok(grown < 5e6, `the heap grew by ${(grown / 1e6).toFixed(1)} MB over 50,000 flushes that gave up`)
  calls[0].resolve()
  await settle()
  assert.is(delivery.stats().delivered, 1)
})

test('flush() during an outage asks the connection to try now, and waits while it connects', async () => {
  const { delivery, calls, connection } = harness({}, 'down')
  connection.open = function () { this.opened++; this.state = 'connecting' }
  delivery.send([record(1)])
  const flushed = track(delivery.flush())
  assert.is(connection.opened, 1)
  await settle()
  assert.is(flushed.done, false)
  connection.state = 'up'
  delivery.wake()
  calls[0].resolve()
  await settle()
  assert.is(flushed.done, true)
  assert.is(delivery.stats().delivered, 1)
})

test('close() counts what is left as close drops, closes the connection once, and later sends are close drops', async () => {
  const { delivery, reports, connection } = harness({}, 'down')
  delivery.send([record(1), record(2), record(3)])
  const closing = delivery.close()
  assert.is(delivery.close(), closing)
  await closing
  assert.is(connection.closed, 1)
  assert.equal(reports, ["closed with 3 records not delivered to Redis at test; counted as dropped ('close')"])
  delivery.send([record(4)])
  assert.equal(delivery.stats(), { delivered: 0, entries: 0, backlog: 0, droppedBacklog: 0, droppedOversize: 0, droppedClose: 4 })
})

test('an XADD that fails after close() gave up waiting is counted as a close drop, not left in the backlog', async () => {
  const { delivery, calls } = harness({ flushTimeoutMs: 10 })
  delivery.send([record(1)])
  delivery.send([record(2)])
  await delivery.close()
  calls[0].resolve()
  calls[1].reject(new Error('connection closed'))
  await settle()
  assert.equal(delivery.stats(), { delivered: 1, entries: 1, backlog: 0, droppedBacklog: 0, droppedOversize: 0, droppedClose: 1 })
})

test('a record larger than maxEntryBytes alone is dropped and counted as oversize; the rest of its batch goes', async () => {
  const { delivery, calls, reports } = harness({ maxEntryBytes: 256 })
  delivery.send([record(1, { tenant: 't'.repeat(300) }), record(2)])
  assert.equal(calls.map((c) => named(c.entry)), [['2']])
  assert.is(delivery.stats().droppedOversize, 1)
  assert.equal(reports, ['1 records dropped: each alone is larger than maxEntryBytes (256)'])
})

test.run()
