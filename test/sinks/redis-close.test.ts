/**
 * What a Redis sink's close() gives up on is counted, like the batcher's: no Redis is needed, since the
 * point is a Redis that never answers (a loopback port nothing listens on).
 */
import http from 'node:http'
import net from 'node:net'
import { once } from 'node:events'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { redisSink } from '../../src/sinks/redis.js'
import { dropTotals } from '../../src/util/drops.js'
import { metrics, withMetrics } from '../../src/index.js'
import { fetchText, listen } from '../support/http.js'

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

test('metrics.close() resolves only once the Redis sink has counted what it gave up on: XADDs Redis never answered', async () => {
  // A peer that answers the handshake's PING and then nothing: a Redis stuck mid-command. Only such a fake can
  // hold every XADD unanswered on a live connection.
  const peers = new Set<net.Socket>()
  const stuck = net.createServer((socket) => {
    peers.add(socket)
    socket.on('data', (d: Buffer) => { if (d.includes('PING')) socket.write('+PONG\r\n') })
    socket.on('close', () => peers.delete(socket))
  })
  stuck.listen(0, '127.0.0.1')
  await once(stuck, 'listening')
  const port = (stuck.address() as net.AddressInfo).port
  // The sink's own bound stays at its default, 5 s: longer than the bound given to metrics.close() below.
  const sink = redisSink({ url: `redis://127.0.0.1:${port}`, onError: () => {} })
  const app = await listen(http.createServer(withMetrics((_req, res) => { res.end('ok') }, { sink })))
  try {
    for (let i = 0; i < 30; i++) await fetchText(`${app.url}/users/${i}`)
    const before = dropTotals().close ?? 0
    const started = Date.now()
    await metrics.close(800)
    const took = Date.now() - started
    // Read at once, as a SIGTERM handler that exits right after would: before, these came 4 s later.
    assert.is(sink.stats().droppedClose, 30)
    assert.ok((dropTotals().close ?? 0) - before >= 30)
    assert.ok(took < 1500, `metrics.close(800) took ${took} ms`)
  } finally {
    await app.close()
    for (const socket of peers) socket.destroy()
    stuck.close()
  }
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
