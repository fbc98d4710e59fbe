import { hostname } from 'node:os'
import { test as defaultSuite } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { createClient } from 'redis'
import type { MetricRecord } from '../../src/wire/record.js'
import { redisSink, type RedisSink, type RedisSinkOptions } from '../../src/sinks/redis.js'
import { DROPPED_BACKLOG_COUNTER } from '../../src/sinks/redis-delivery.js'
import { decodeEntry, encodeBatch, toRecords } from '../../src/wire/stream-encoding.js'
import { redisSuite, startRedis, type RedisServer } from '../support/redis-server.js'
import { freePort, servicesAvailable, sleep, waitFor } from '../support/services.js'
import { sinkContract } from './contract.js'
import { metrics } from '../../src/metrics.js'
import { flushSink } from '../../src/pipeline/registry.js'
import { OptionError } from '../../src/util/option-check.js'

const { test, it, available, redis: server, cleanup } = redisSuite('redisSink', { file: 'test/sinks/redis.test.ts', password: 'p@ss:w/rd' })
const openssl = { binary: 'openssl', debian: 'openssl' }
const withTls = available && servicesAvailable('test/sinks/redis.test.ts (redisSink over TLS)', [openssl]) ? test : test.skip

let streamNo = 0
const sinks: RedisSink[] = []
const newStream = (): string => `s${++streamNo}`

test.after.each(async () => { await Promise.all(sinks.splice(0).map((s) => s.close())) })

// The sink's mechanics (backlog, outages, splitting) are the same for both schemas; v=1 lets these tests
// compare every record read back. The default schema (v=2) has its own test below.
function makeSink(options: Parameters<typeof redisSink>[0] = {}, errors: Error[] = []): RedisSink {
  const sink = redisSink({ url: server.url, onError: (e) => errors.push(e), encoding: 1, ...options })
  sinks.push(sink)
  return sink
}

function records(n: number, from = 0): MetricRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: 'request' as const, prefix: '', route: `r${(from + i) % 7}`, method: 'GET', status: 200, aborted: false,
    dimensions: { service: 'shop' }, counters: { Failure: 0, ClientError: 0, Aborted: 0 },
    timers: { RequestTime: 1 + (from + i) / 1000 }, timestamp: 1763798400000 + from + i,
  }))
}

/** The entries of `stream` in the Redis at `url` (the suite's unless told). */
async function readStream(stream: string, url = server.url): Promise<Array<{ id: string, fields: Record<string, string> }>> {
  const client = createClient({ url })
  await client.connect()
  try {
    const entries = ((await client.xRange(stream, '-', '+')) ?? [])
    return entries.map((e) => ({ id: e.id, fields: e.message as Record<string, string> }))
  } finally { await client.close() }
}

/**
 * A private redis-server the test may stop and start (stopped first with `down`), and a v=1 sink on a fresh
 * stream of it, its errors collected; both removed after the test.
 */
async function privateRedis(options: Omit<RedisSinkOptions, 'url' | 'stream' | 'onError'> & { down?: boolean } = {}) {
  const { down, ...sinkOptions } = options
  const redis = await startRedis()
  cleanup(() => redis.stop({ keepData: false }))
  if (down === true) await redis.stop()
  const errors: Error[] = []
  const stream = newStream()
  const sink = redisSink({ url: redis.url, stream, encoding: 1, onError: (e) => errors.push(e), ...sinkOptions })
  cleanup(() => sink.close())
  return { redis, sink, stream, errors }
}

/** Every record of `stream`, decoded, in order. */
async function readRecords(stream: string, url = server.url): Promise<MetricRecord[]> {
  return (await readStream(stream, url)).flatMap((e) => toRecords(decodeEntry(e.fields.v, e.fields.p)))
}

async function countRecords(stream: string): Promise<number> {
  return (await readRecords(stream)).length
}

test('bad options throw a TypeError (OptionError) naming the option, never echoing a password', () => {
  const cases: Array<[unknown, string]> = [
    [{ url: 'http://u:hunter2@x' }, 'url'], [{ url: 'redis://u:hunter2@[bad' }, 'url'], [{ url: 42 }, 'url'],
    [{ url: 'redis+cluster://:hunter2@h:1,,h:2' }, 'url'],
    [{ maxLen: -1 }, 'maxLen'], [{ maxBacklog: 1.5 }, 'maxBacklog'], [{ stream: '' }, 'stream'],
    [{ maxEntryBytes: 10 }, 'maxEntryBytes'], [{ onError: 'x' }, 'onError'], [{ encoding: 3 }, 'encoding'],
    [{ flushTimeoutMs: -5 }, 'flushTimeoutMs'], [{ connectTimeoutMs: 'soon' }, 'connectTimeoutMs'], ['redis://x', 'options'],
  ]
  for (const [options, name] of cases) {
    try { redisSink(options as never); assert.unreachable(name) } catch (e) {
      assert.instance(e, TypeError)
      assert.instance(e, OptionError)
      assert.is((e as OptionError).option, name)
      assert.is((e as OptionError).owner, 'redisSink')
      assert.ok((e as Error).message.startsWith(`routemeter: redisSink option "${name}" `), (e as Error).message)
      assert.not.ok((e as Error).message.includes('hunter2'))
    }
  }
  assert.is(messageOf(() => redisSink({ maxLen: -1 })), 'routemeter: redisSink option "maxLen" must be an integer of at least 0, got -1')
  assert.is(messageOf(() => redisSink({ maxEntryBytes: 10 })),
    'routemeter: redisSink option "maxEntryBytes" must be an integer of at least 256, got 10')
})

function messageOf(make: () => unknown): string {
  try { make() } catch (e) { return (e as Error).message }
  return 'did not throw'
}

/** Sends `batch` and flushes; returns the one entry it must make in `stream`, checked for its schema `v` and count. */
async function oneEntry(sink: RedisSink, stream: string, batch: MetricRecord[], v: '1' | '2'): Promise<Record<string, string>> {
  await sink.send(batch)
  await flushSink(sink)
  const entries = await readStream(stream)
  assert.is(entries.length, 1)
  assert.is(entries[0].fields.v, v)
  assert.is(entries[0].fields.n, String(batch.length))
  return entries[0].fields
}

it('by default (schema v=2) one send becomes one entry of per-route summaries: every request counted, timers within 1.08%', async () => {
  const stream = newStream()
  const sink = redisSink({ url: server.url, stream, onError: () => {} })
  sinks.push(sink)
  const batch = records(700)
  const entry = await oneEntry(sink, stream, batch, '2')
  assert.is(entry.s, `${hostname()}:${process.pid}`, 'the producing process, for readers such as routemeter top')
  const decoded = decodeEntry(entry.v, entry.p)
  const perRoute = new Map<string, number>()
  for (const g of decoded.groups) perRoute.set(g.route, (perRoute.get(g.route) ?? 0) + (g.records ?? 0))
  assert.equal(Object.fromEntries(perRoute), Object.fromEntries([0, 1, 2, 3, 4, 5, 6].map((k) => [`r${k}`, 100])))
  for (const s of decoded.summaries) {
    if (s.type !== 'timer') continue
    const route = decoded.groups[s.group]!.route
    const exact = batch.filter((r) => r.route === route).map((r) => r.timers.RequestTime!)
    assert.is(s.count, exact.length)
    assert.is(s.min, Math.min(...exact))
    assert.is(s.max, Math.max(...exact))
    assert.ok(Math.abs(s.sum - exact.reduce((a, b) => a + b, 0)) < 1e-6)
  }
  assert.is(sink.stats().delivered, 700)
})

it('one send becomes one stream entry that decodes back to the batch', async () => {
  const stream = newStream()
  const sink = makeSink({ stream })
  const batch = records(25)
  const entry = await oneEntry(sink, stream, batch, '1')
  assert.equal(toRecords(decodeEntry(entry.v, entry.p)), batch)
  assert.is(sink.stats().delivered, 25)
})

it('a flush larger than maxEntryBytes is split into several entries, none lost', async () => {
  const stream = newStream()
  const sink = makeSink({ stream, maxEntryBytes: 4096 })
  await sink.send(records(1000))
  await flushSink(sink)
  const entries = await readStream(stream)
  // Split as the encoder splits: as many entries as encodeBatch makes of the batch, each within the cap.
  assert.is(entries.length, encodeBatch(records(1000), 4096, { version: 1 }).entries.length)
  for (const e of entries) assert.ok(Buffer.byteLength(e.fields.p) <= 4096, `${Buffer.byteLength(e.fields.p)} bytes`)
  assert.is(await countRecords(stream), 1000)
})

it('maxLen trims the stream approximately', async () => {
  const stream = newStream()
  const sink = makeSink({ stream, maxLen: 100 })
  for (let i = 0; i < 1000; i++) await sink.send(records(1, i))
  await flushSink(sink)
  const length = (await readStream(stream)).length
  // MAXLEN ~ trims whole macro nodes (100 entries by default), so the length stays within a node of the cap.
  assert.ok(length >= 100 && length <= 300, `length ${length}`)
})

it('a wrong password is reported once, redacted, and send still never throws', async () => {
  const errors: Error[] = []
  const url = `redis://:wrong-secret@127.0.0.1:${server.port}`
  const sink = makeSink({ url, stream: newStream() }, errors)
  for (let i = 0; i < 50; i++) await sink.send(records(2))
  await waitFor('a warning', () => errors.length > 0)
  // A quiet period (the time is the subject): the sink keeps retrying meanwhile, and must not warn again.
  await sleep(400)
  assert.is(errors.length, 1, errors.map((e) => e.message).join('\n'))
  assert.not.ok(errors[0].message.includes('wrong-secret'), errors[0].message)
  assert.ok(errors[0].message.includes(':***@'), errors[0].message)
})

it('Redis down at start: sends stay fast, one warning, the backlog arrives once Redis is up', async () => {
  const { redis, sink, stream, errors } = await privateRedis({ down: true })
  const started = process.hrtime.bigint()
  for (let i = 0; i < 200; i++) await sink.send(records(10, i * 10))
  const perSendUs = Number(process.hrtime.bigint() - started) / 1000 / 200
  // Encoding 10 records costs ≈ 10–30 µs; nothing may wait for the network.
  assert.ok(perSendUs < 1000, `${perSendUs} µs per send`)
  await waitFor('the outage warning', () => errors.length > 0)
  // A quiet period (the time is the subject): reconnect attempts go on meanwhile, and must not warn again.
  await sleep(800)
  assert.is(errors.length, 1, errors.map((e) => e.message).join('\n'))
  assert.is(sink.stats().backlog, 2000)
  await redis.start()
  await waitFor('delivery after Redis came up', () => sink.stats().delivered === 2000, 10_000)
  const requests = await readRecords(stream, redis.url)
  assert.equal(requests.map((r) => r.timestamp - 1763798400000), Array.from({ length: 2000 }, (_, i) => i), 'each once, in order')
})

it('Redis lost mid-run and restarted: nothing within the backlog is lost, one warning per outage', async () => {
  const { redis, sink, stream, errors } = await privateRedis()
  let sent = 0
  // Sends spread over time, as an app makes them, before, through and after the outage.
  const tick = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) { await sink.send(records(5, sent)); sent += 5; await sleep(5) }
  }
  await tick(40)
  await redis.stop()
  await tick(100)
  await redis.start()
  await tick(40)
  await waitFor('everything delivered', () => sink.stats().delivered === sent, 10_000)
  assert.is(sink.stats().droppedBacklog, 0)
  assert.is(sink.stats().outages, 1)
  assert.is(errors.length, 1, errors.map((e) => e.message).join('\n'))
  // Timestamps are unique per record, so a duplicate or a loss would both show.
  const timestamps = (await readRecords(stream, redis.url)).map((r) => r.timestamp - 1763798400000).sort((a, b) => a - b)
  assert.equal(timestamps, Array.from({ length: sent }, (_, i) => i))
})

it('a full backlog drops the oldest records and reports the count as a metric when Redis is back', async () => {
  const { redis, sink, stream, errors } = await privateRedis({ down: true, maxBacklog: 100 })
  const droppedBefore = metrics.stats().dropped.backlog ?? 0
  for (let i = 0; i < 30; i++) await sink.send(records(10, i * 10))
  assert.is(sink.stats().backlog, 100)
  assert.is(sink.stats().droppedBacklog, 200)
  assert.is((metrics.stats().dropped.backlog ?? 0) - droppedBefore, 200, 'visible in metrics.stats() too')
  await redis.start()
  await waitFor('delivery', () => sink.stats().delivered === 100 && sink.stats().entries === 11, 10_000)
  const all = await readRecords(stream, redis.url)
  const drops = all.filter((r) => r.kind === 'process')
  assert.is(drops.length, 1)
  assert.equal(drops[0].counters, { [DROPPED_BACKLOG_COUNTER]: 200 })
  assert.equal(drops[0].dimensions, { service: 'shop' })
  // The newest 100 survived.
  const survivors = all.filter((r) => r.kind === 'request').map((r) => r.timestamp - 1763798400000)
  assert.equal(survivors, Array.from({ length: 100 }, (_, i) => 200 + i))
  assert.ok(errors.some((e) => e.message.includes('200 records were dropped')), errors.map((e) => e.message).join('\n'))
})

it('drops from a burst bigger than the backlog while connected are counted and reported at once', async () => {
  const stream = newStream()
  const errors: Error[] = []
  const sink = makeSink({ stream, maxBacklog: 50 }, errors)
  await sink.send(records(1))
  await flushSink(sink)
  // 32 XADDs go in flight at once; past that, at most 50 records may wait.
  for (let i = 0; i < 100; i++) await sink.send(records(10, i * 10))
  await flushSink(sink)
  const all = await readRecords(stream)
  const dropped = all.filter((r) => r.kind === 'process').reduce((n, r) => n + (r.counters[DROPPED_BACKLOG_COUNTER] ?? 0), 0)
  const requests = all.filter((r) => r.kind === 'request').length
  assert.ok(dropped > 0, 'some records were dropped')
  assert.is(requests + dropped, 1001, `${requests} delivered + ${dropped} dropped`)
  assert.is(dropped, sink.stats().droppedBacklog)
  assert.is(errors.filter((e) => e.message.includes('dropped')).length, 1)
})

it('the count of backlog drops still arrives when the dimensions it would carry make it larger than maxEntryBytes', async () => {
  const stream = newStream()
  const sink = makeSink({ stream, maxBacklog: 20, maxEntryBytes: 256 }, [])
  // Each batch starts with a record too large for an entry (dropped, counted as oversize): the drop report
  // borrows the dimensions of a batch's first record, and with these it would not fit an entry either.
  const big = { tenant: 't'.repeat(200), region: 'r'.repeat(200) }
  const batch = (i: number): MetricRecord[] => [{ ...records(1, i * 10)[0]!, dimensions: big }, ...records(9, i * 10 + 1)]
  await sink.send(records(1))
  await flushSink(sink)
  for (let i = 0; i < 50; i++) await sink.send(batch(i))
  await flushSink(sink)
  const all = await readRecords(stream)
  const dropped = all.filter((r) => r.kind === 'process').reduce((n, r) => n + (r.counters[DROPPED_BACKLOG_COUNTER] ?? 0), 0)
  const requests = all.filter((r) => r.kind === 'request').length
  assert.ok(sink.stats().droppedBacklog > 0, 'some records were dropped from the backlog')
  assert.is(dropped, sink.stats().droppedBacklog)
  assert.is(requests + dropped + sink.stats().droppedOversize, 501, `${requests} delivered + ${dropped} dropped + oversize`)
})

it('flush() during an outage tries Redis at once instead of waiting for the next backoff tick', async () => {
  const { redis, sink } = await privateRedis()
  await sink.send(records(1))
  await flushSink(sink)
  await redis.stop()
  // Several failed attempts push the backoff towards its 5 s ceiling (the time is the subject).
  for (let i = 0; i < 6; i++) { await sink.send(records(1, i + 1)); await sleep(300) }
  await redis.start()
  const started = Date.now()
  await flushSink(sink)
  assert.is(sink.stats().delivered, 7, `after ${Date.now() - started} ms`)
  assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`)
})

it('close() delivers what is pending, reports what could not go, and is idempotent', async () => {
  const stream = newStream()
  const sink = makeSink({ stream })
  await sink.send(records(30))
  await Promise.all([sink.close(), sink.close()])
  assert.is(await countRecords(stream), 30)
  await sink.send(records(5))
  await flushSink(sink)
  assert.is(await countRecords(stream), 30)

  const errors: Error[] = []
  const dead = redisSink({ url: `redis://127.0.0.1:${await freePort()}`, flushTimeoutMs: 300, onError: (e) => errors.push(e) })
  await dead.send(records(7))
  const started = Date.now()
  await dead.close()
  assert.ok(Date.now() - started < 1500, `close took ${Date.now() - started} ms`)
  assert.ok(errors.some((e) => e.message.includes('7 records not delivered')), errors.map((e) => e.message).join('\n'))
})

it('a process whose Redis is unreachable still exits on its own (nothing holds it open)', async () => {
  const port = await freePort()
  const code = `
    const { redisSink } = require('./src/sinks/redis.ts')
    const sink = redisSink({ url: 'redis://127.0.0.1:${port}', onError: () => {} })
    sink.send([{ kind: 'request', prefix: '', route: 'a', method: 'GET', status: 200, aborted: false,
      dimensions: {}, counters: {}, timers: { RequestTime: 1 }, timestamp: Date.now() }])
    setTimeout(() => sink.send([]), 50)
  `
  const started = Date.now()
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], { cwd: process.cwd(), stdio: 'ignore' })
  const timer = setTimeout(() => child.kill('SIGKILL'), 8000)
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  clearTimeout(timer)
  assert.is(exitCode, 0, 'killed after 8 s: something held the process open')
  assert.ok(Date.now() - started < 8000)
})

withTls('rediss:// works: a sink in a process that trusts the server certificate delivers over TLS', async () => {
  const tlsServer = await startRedis({ tls: true, password: 'tls-secret' })
  try {
    const tls = tlsServer.tls as { url: string, caFile: string }
    const code = `
      const { redisSink } = require('./src/sinks/redis.ts')
      const errors = []
      const sink = redisSink({ url: process.env.TLS_URL, stream: 'tls', onError: (e) => errors.push(e.message) })
      sink.send([{ kind: 'request', prefix: '', route: 'tls', method: 'GET', status: 200, aborted: false,
        dimensions: {}, counters: {}, timers: { RequestTime: 1 }, timestamp: 1 }])
      sink.close().then(() => { console.log(JSON.stringify({ stats: sink.stats(), errors })) })
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], {
      cwd: process.cwd(), env: { ...process.env, TLS_URL: tls.url, NODE_EXTRA_CA_CERTS: tls.caFile }, stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    await new Promise((resolve) => child.once('exit', resolve))
    const result = JSON.parse(out) as { stats: { delivered: number }, errors: string[] }
    assert.is(result.stats.delivered, 1, out)
    assert.equal(result.errors, [])
    const client = createClient({ url: tlsServer.url })
    await client.connect()
    assert.is(await client.xLen('tls'), 1)
    await client.close()
  } finally { await tlsServer.stop({ keepData: false }) }
})

test.run()

if (available) {
  // The contract every sink passes, with delivery checked in the stream itself.
  let contractServer: RedisServer | undefined
  let contractNo = 0
  defaultSuite.after(async () => { await contractServer?.stop({ keepData: false }) })
  sinkContract('redisSink', async () => {
    contractServer ??= await startRedis()
    const url = contractServer.url
    const stream = `contract${++contractNo}`
    const sink = redisSink({ url, stream, encoding: 1, onError: () => {} })
    return {
      sink,
      delivered: async (route) => (await readRecords(stream, url)).filter((r) => r.kind === 'request' && r.route === route).length,
    }
  })
  defaultSuite.run()
}
