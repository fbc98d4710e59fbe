/**
 * The Redis sink's own socket against a real redis-server: what it says on connecting (AUTH with a user,
 * SELECT), the XADD it writes, and what it does when Redis refuses a command, stops answering, or never
 * finishes the handshake. The sink's other behaviour over this socket is in redis.test.ts.
 */
import { createClient } from 'redis'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { resolveRedisUrl } from '../../src/redis/url.js'
import { redisSink, type RedisSinkOptions } from '../../src/sinks/redis.js'
import { socketWriter } from '../../src/sinks/redis-socket.js'
import { command, redisSuite, startRedis } from '../support/redis-server.js'
import { freePort, sleep, waitFor } from '../support/services.js'

const password = 'p@ss:w0rd'
const { test, it, redis: server, cleanup } = redisSuite('redisSink socket', { file: 'test/sinks/redis-socket.test.ts', password })

const record = (route: string): MetricRecord => ({
  kind: 'request', prefix: '', route, method: 'GET', status: 200, aborted: false, dimensions: {},
  counters: { Failure: 0 }, timers: { RequestTime: 1 }, timestamp: 1764806400000,
})

/** A v=1 sink (records read back one for one), its errors collected, closed after the test. */
function sink(options: RedisSinkOptions) {
  const errors: string[] = []
  const made = redisSink({ encoding: 1, onError: (e) => errors.push(e.message), ...options })
  cleanup(() => made.close())
  return { sink: made, errors }
}

/** Entries of `stream` in database `db` of the Redis at `url`, with their fields in the order they were written. */
async function entries(url: string, stream: string, db = 0): Promise<Array<Array<[string, string]>>> {
  const client = createClient({ url, database: db })
  await client.connect()
  try {
    const raw = await client.sendCommand(['XRANGE', stream, '-', '+']) as Array<[string, string[]]>
    const pairs = (fields: string[]): Array<[string, string]> =>
      Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i], fields[2 * i + 1]])
    return raw.map(([, fields]) => pairs(fields))
  } finally { await client.close() }
}

it('AUTH as an ACL user and SELECT from the URL: the entry lands in that database with the fields v, n, p, s', async () => {
  await command(server.port, password, 'ACL SETUSER writer on >wr1ter:p@ss ~* +@all')
  const url = `redis://writer:${encodeURIComponent('wr1ter:p@ss')}@127.0.0.1:${server.port}/3`
  const { sink: s, errors } = sink({ url, stream: 'acl', maxLen: 5 })
  void s.send([record('acl')])
  await s.flush()
  assert.equal(errors, [])
  assert.is(s.stats().delivered, 1)
  const [entry] = await entries(server.url, 'acl', 3)
  assert.equal(entry.map(([name]) => name), ['v', 'n', 'p', 's'])
  assert.equal(entry.slice(0, 2), [['v', '1'], ['n', '1']])
  assert.match(entry[3][1], `:${process.pid}`)
  assert.equal(await entries(server.url, 'acl', 0), [], 'nothing in database 0')
})

it('a command Redis refuses (WRONGTYPE) ends the connection and is sent again once it can succeed', async () => {
  await command(server.port, password, 'SET taken not-a-stream')
  const { sink: s, errors } = sink({ url: server.url, stream: 'taken' })
  void s.send([record('refused')])
  await waitFor('the refusal reported', () => errors.length > 0, 5000, 10)
  assert.match(errors[0], 'WRONGTYPE')
  assert.is(s.stats().delivered, 0)
  assert.is(s.stats().backlog, 1)
  await sleep(600) // reconnects, each XADD refused again: still the one outage
  assert.is(s.stats().outages, 1)
  await command(server.port, password, 'DEL taken')
  await waitFor('delivery after the key is free', () => s.stats().delivered === 1, 10_000, 20)
  assert.is((await entries(server.url, 'taken')).length, 1)
  assert.is(errors.length, 1, 'one warning for the outage')
  assert.is(s.stats().outages, 1)
})

it('a Redis that stops answering: the XADD times out after commandTimeoutMs, and is delivered once Redis resumes', async () => {
  const redis = await startRedis()
  cleanup(async () => { redis.freeze(false); await redis.stop({ keepData: false }) })
  const { sink: s, errors } = sink({ url: redis.url, stream: 'frozen', commandTimeoutMs: 300, connectTimeoutMs: 300 })
  void s.send([record('before')])
  await s.flush()
  assert.is(s.stats().delivered, 1)

  redis.freeze(true)
  void s.send([record('during')])
  await waitFor('the timeout reported', () => errors.length > 0, 5000, 10)
  assert.match(errors[0], 'did not answer within 300 ms')
  assert.is(s.stats().delivered, 1)
  assert.is(s.stats().backlog, 1, 'the unanswered entry is back in the backlog')
  await sleep(700) // reconnect attempts while frozen: TCP connects, the PING gets no answer, no new outage

  redis.freeze(false)
  await waitFor('delivery after resuming', () => s.stats().delivered === 2, 10_000, 20)
  const routes = (await entries(redis.url, 'frozen')).map((fields) => fields.find(([name]) => name === 'p')?.[1] ?? '')
  // At least once: Redis may have applied an XADD whose reply came too late, so 'during' can be there twice.
  const [first, ...later] = routes
  assert.ok(first.includes('before') && later.length >= 1 && later.every((p) => p.includes('during')), routes.join('\n'))
  assert.is(s.stats().outages, 1, 'one outage, one warning')
})

it('a handshake Redis never answers (AUTH): the connection attempt ends after connectTimeoutMs and is reported', async () => {
  const redis = await startRedis({ password: 'pw' })
  cleanup(async () => { redis.freeze(false); await redis.stop({ keepData: false }) })
  redis.freeze(true) // the kernel still accepts the TCP connection; AUTH gets no reply
  const { sink: s, errors } = sink({ url: redis.url, stream: 'hs', connectTimeoutMs: 200 })
  const started = Date.now()
  void s.send([record('hs')])
  await waitFor('the timeout reported', () => errors.length > 0, 5000, 10)
  assert.match(errors[0], 'connection timed out after 200 ms')
  assert.ok(Date.now() - started < 2000)
  redis.freeze(false)
  await waitFor('delivery after resuming', () => s.stats().delivered === 1, 10_000, 20)
})

it('connect() on a socket that already failed rejects at once with its failure, with no connect timeout to end it', async () => {
  const port = await freePort() // nothing listens there: the connection is refused
  const open = socketWriter(resolveRedisUrl(`redis://127.0.0.1:${port}`, 'url').server,
    { stream: 'refused', maxLen: 0, source: 'test', connectTimeoutMs: 0, commandTimeoutMs: 0 })
  const lost: unknown[] = []
  const writer = await open((error) => lost.push(error))
  await waitFor('the refused connection reported', () => lost.length > 0, 5000, 10)
  const outcome = await Promise.race([
    writer.connect().then(() => 'connected', (error: Error) => `rejected: ${error.message}`),
    sleep(2000).then(() => 'still waiting after 2 s'),
  ])
  assert.match(outcome, /^rejected: .*ECONNREFUSED/)
})

test.run()
