/**
 * The reader of `routemeter top` against a private redis-server: the backfill (the window's entries at once,
 * none older, at most `backfillLimit`), the live read, the agents' consumer group left untouched, a stream that
 * does not exist yet, and a Redis restart (state reconnecting, then up; entries written after the restart
 * counted, none twice).
 */
import * as assert from 'uvu/assert'
import { createClient, type RedisClientType } from 'redis'
import type { MetricRecord } from '../../src/wire/record.js'
import { encodeBatch } from '../../src/wire/stream-encoding.js'
import { resolveRedisTarget } from '../../src/redis/target.js'
import { startTopReader, type TopReader, type TopReaderOptions } from '../../src/top/reader.js'
import type { Snapshot } from '../../src/top/snapshot.js'
import { TopWindow } from '../../src/top/window.js'
import { redisSuite } from '../support/redis-server.js'
import { until } from '../support/eventually.js'

const { test, it, redis, cleanup } = redisSuite('routemeter top: the reader', { file: 'test/top/reader.test.ts' })

let streams = 0

async function setup(): Promise<{ client: RedisClientType, stream: string, start: (o?: Partial<TopReaderOptions>) => TopReader }> {
  const client: RedisClientType = createClient({ url: redis.url, socket: { reconnectStrategy: 100 } })
  client.on('error', () => {})
  await client.connect()
  cleanup(() => client.destroy())
  const stream = `top-reader-${++streams}`
  const start = (options: Partial<TopReaderOptions> = {}): TopReader => {
    const reader = startTopReader({
      target: resolveRedisTarget(redis.url, 'redis'), stream, group: 'agents', window: new TopWindow({ windowMs: 60_000 }), ...options,
    })
    cleanup(() => reader.stop())
    return reader
  }
  return { client, stream, start }
}

/** One entry of `n` GET /route requests, as redisSink writes it (with the producer field `s`). */
async function write(client: RedisClientType, stream: string, route: string, n: number, options: { id?: string, s?: string } = {}) {
  const records: MetricRecord[] = Array.from({ length: n }, () => ({
    kind: 'request', prefix: '', route, method: 'GET', status: 200, aborted: false, dimensions: {},
    counters: { Failure: 0, ClientError: 0, Aborted: 0 }, timers: { RequestTime: 3 }, timestamp: Date.now(),
  }))
  const [e] = encodeBatch(records).entries
  const fields = { v: e.v, n: String(e.n), p: e.p, ...(options.s === undefined ? {} : { s: options.s }) }
  return await client.xAdd(stream, options.id ?? '*', fields)
}

const requests = (snapshot: Snapshot, route: string): number | undefined => snapshot.routes.find((r) => r.route === route)?.requests

it('backfills the window at once (nothing older), then reads new entries as they come', async () => {
  const { client, stream, start } = await setup()
  await write(client, stream, 'old', 5, { id: `${Date.now() - 120_000}-0` })
  for (let i = 0; i < 3; i++) await write(client, stream, 'recent', 10, { s: `web-${i % 2}:1` })
  const reader = start()
  await reader.ready
  const first = reader.snapshot('rps')
  assert.equal([first.state, requests(first, 'recent'), requests(first, 'old'), first.entries, first.processes],
    ['up', 30, undefined, 3, 2])
  assert.equal([first.streamLength, first.lag], [4, undefined], 'no group "agents" yet: no lag')
  await write(client, stream, 'recent', 7)
  await until(() => requests(reader.snapshot('rps'), 'recent') === 37, 'the live entry to be read')
  assert.equal(reader.stats(), { entries: 4, unreadable: 0, connections: 1 })
})

it('the backfill stops at backfillLimit entries, newest first, and the live read goes on after the newest', async () => {
  const { client, stream, start } = await setup()
  for (let n = 1; n <= 5; n++) await write(client, stream, 'r', n)
  const reader = start({ backfillLimit: 3 })
  await reader.ready
  assert.is(requests(reader.snapshot('rps'), 'r'), 5 + 4 + 3)
  await write(client, stream, 'r', 100)
  await until(() => requests(reader.snapshot('rps'), 'r') === 112, 'the live entry to be read')
  assert.is(reader.stats().entries, 4)
})

it('leaves the agents\' consumer group alone: nothing pending, no consumer, lag as the agents left it', async () => {
  const { client, stream, start } = await setup()
  await client.xGroupCreate(stream, 'agents', '0', { MKSTREAM: true })
  await write(client, stream, 'r', 2)
  await write(client, stream, 'r', 3)
  const [one, two] = [start(), start()]
  await Promise.all([one.ready, two.ready])
  await until(() => one.snapshot('rps').lag === 2, 'the lag to be read')
  assert.equal([requests(one.snapshot('rps'), 'r'), requests(two.snapshot('rps'), 'r')], [5, 5], 'two tops see every entry')
  const [group] = (await client.xInfoGroups(stream)) as unknown as Array<Record<string, unknown>>
  assert.equal([group.name, group.consumers, group.pending, group.lag], ['agents', 0, 0, 2])
  assert.is(one.snapshot('rps').streamLength, 2)
})

it('rates: over the whole window when the stream holds an entry older than it, over the stream\'s age when not', async () => {
  const { client, stream, start } = await setup()
  await write(client, stream, 'old', 5, { id: `${Date.now() - 3_600_000}-0` })
  for (let i = 0; i < 3; i++) await write(client, stream, 'r', 10)
  const older = start()
  await older.ready
  assert.equal([older.snapshot('rps').ratesOverMs, requests(older.snapshot('rps'), 'r')], [59_000, 30])
  // A young stream: its oldest entry's records began just now (write() stamps them Date.now()).
  const young = await setup()
  await write(young.client, young.stream, 'r', 10)
  const reader = young.start()
  await reader.ready
  assert.ok(reader.snapshot('rps').ratesOverMs < 5_000, `ratesOverMs ${reader.snapshot('rps').ratesOverMs}`)
})

it('a stream that does not exist yet is empty, not an error; its first entry is read', async () => {
  const { client, stream, start } = await setup()
  const reader = start()
  await reader.ready
  const s = reader.snapshot('rps')
  assert.equal([s.state, s.empty, s.entries, s.routes.length, s.streamLength, s.lag, s.lastError],
    ['up', true, 0, 0, 0, undefined, undefined])
  await write(client, stream, 'first', 4)
  await until(() => requests(reader.snapshot('rps'), 'first') === 4, 'the first entry to be read')
  assert.is(reader.snapshot('rps').empty, false)
  assert.ok(reader.snapshot('rps').ratesOverMs < 5_000, 'a stream that began with the first live entry is young')
})

it('an entry it cannot decode is counted as unreadable, and the next ones are read', async () => {
  const { client, stream, start } = await setup()
  await client.xAdd(stream, '*', { v: '2', n: '1', p: 'not json' })
  await client.xAdd(stream, '*', { v: '99', n: '1', p: '{}' })
  const reader = start()
  await reader.ready
  await write(client, stream, 'r', 6)
  await until(() => requests(reader.snapshot('rps'), 'r') === 6, 'the good entry to be read')
  const s = reader.snapshot('rps')
  assert.equal([s.entries, s.unreadable], [3, 2])
})

it('Redis restarting: reconnecting while it is away, then up, and every entry counted exactly once', async () => {
  const { client, stream, start } = await setup()
  await write(client, stream, 'r', 10)
  const reader = start()
  await reader.ready
  await write(client, stream, 'r', 20)
  await until(() => requests(reader.snapshot('rps'), 'r') === 30, 'the entries before the restart')
  await redis.stop()
  await until(() => reader.snapshot('rps').state === 'reconnecting', 'the reader to notice', 5000)
  const away = reader.snapshot('rps')
  assert.ok(/closed|ECONNREFUSED|ECONNRESET|Socket/i.test(away.lastError ?? ''), `lastError ${away.lastError}`)
  assert.is(requests(away, 'r'), 30, 'the window stays on screen meanwhile')
  await redis.start()
  await until(async () => {
    try { return (await client.ping()) === 'PONG' } catch { return false }
  }, 'the test client to reconnect', 10_000)
  await write(client, stream, 'r', 40)
  await until(() => reader.snapshot('rps').state === 'up' && requests(reader.snapshot('rps'), 'r') === 70, 'the reader to read on', 10_000)
  await write(client, stream, 'r', 1)
  await until(() => requests(reader.snapshot('rps'), 'r') === 71, 'one more entry')
  const s = reader.snapshot('rps')
  assert.equal([s.state, s.entries, s.lastError], ['up', 4, undefined])
  assert.equal([reader.stats().entries, reader.stats().connections], [4, 2])
})

test.run()
