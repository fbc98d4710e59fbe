import * as assert from 'uvu/assert'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { MetricRecord } from '../../src/wire/record.js'
import { influxPublisher } from '../../src/agent/influx-publisher.js'
import { entryTimestampNs, escapeMeasurement, escapeTag, seriesToLines } from '../../src/wire/influx-line.js'
import { PublishError } from '../../src/agent/publisher.js'
import { entryOf as entry } from '../support/entries.js'
import { influxSuite, type InfluxQueryResult } from '../support/influxd.js'
import { freePort } from '../support/services.js'
import { OptionError } from '../../src/util/option-check.js'

const { test, it, influx, newDb } = influxSuite('influxPublisher', { file: 'test/agent/influx-publisher.test.ts' })
/** Numbers the databases the 'missing database' test names itself. */
let dbNo = 0

function record(over: Partial<MetricRecord> = {}): MetricRecord {
  return {
    kind: 'request', prefix: '', route: 'users.id', method: 'GET', status: 200, aborted: false,
    dimensions: { service: 'shop' }, counters: { Failure: 0, ClientError: 0 }, timers: { RequestTime: 2 },
    timestamp: 1763798400000, ...over,
  }
}

test('entry ids become nanosecond timestamps past 2^53, exactly', () => {
  assert.is(entryTimestampNs('1763798400123-7'), '1763798400123000007')
  assert.is(entryTimestampNs('1763798400123-999999'), '1763798400123999999')
  assert.is(entryTimestampNs('0-0'), '0000000')
  // The last millisecond whose every sequence fits InfluxDB's int64 nanoseconds (year 2262).
  assert.is(entryTimestampNs('9223372036853-999999'), '9223372036853999999')
})

test('entryTimestampNs never throws: an id with no exact InfluxDB timestamp gives undefined', () => {
  const none = [
    '9999999999999999-0', '9223372036854-0', '18446744073709551615-18446744073709551615', // past int64 nanoseconds
    '1-1000000', // a millionth XADD in one millisecond would collide with the next millisecond
    'x', '1-', '-1', '1-2-3', '', // not stream ids at all
  ]
  for (const id of none) assert.is(entryTimestampNs(id), undefined, id)
})

it('an entry whose id has no InfluxDB timestamp is refused permanently, without a request', async () => {
  const db = await newDb()
  const pub = influxPublisher({ url: influx.url, db })
  try { await pub.publish([entry('9999999999999999-3', [record()])]); assert.unreachable() } catch (e) {
    assert.instance(e, PublishError)
    assert.ok((e as PublishError).permanent, (e as Error).message)
    assert.match((e as Error).message, /9999999999999999-3/)
  } finally { await pub.close() }
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"'), 0)
})

test('escaping covers every line protocol special character', () => {
  assert.is(escapeMeasurement('Request Time,x'), 'Request\\ Time\\,x')
  assert.is(escapeMeasurement('#comment'), '_comment')
  assert.is(escapeTag('a=b, c\\d'), 'a\\=b\\,\\ c\\d')
  assert.is(escapeTag('x\\,y\\'), 'x/\\,y/')
  assert.is(escapeMeasurement('m\\ x\\'), 'm/\\ x/')
  assert.is(escapeTag('line\nbreak'), 'line\\ break')
})

test('one point per series per entry with count, sum, min, max, quantiles and buckets; tags sorted, empty tags left out', () => {
  const e = entry('1763798400123-7', [
    record({ timers: { RequestTime: 2 } }), record({ timers: { RequestTime: 6 }, counters: { Failure: 1, ClientError: 0 } }),
    record({ kind: 'process', route: '', method: '', dimensions: {}, counters: { 'jobs.done': 3 }, timers: {} }),
  ])
  // Buckets: 2 ms is b32 (2^(32/32)), 6 ms is b83 (2^(82/32) ≈ 5.91 < 6 ≤ 2^(83/32) ≈ 6.04). p99 of two values is
  // the lower one (rank ⌊0.99 · 1⌋ = 0): clamped to min, exact.
  assert.is(seriesToLines(e.series(), entryTimestampNs(e.id) as string), [
    'Failure,method=GET,route=users.id,service=shop,status_class=2xx count=2i,sum=1,min=0,max=1 1763798400123000007',
    'ClientError,method=GET,route=users.id,service=shop,status_class=2xx count=2i,sum=0,min=0,max=0 1763798400123000007',
    'RequestTime,method=GET,route=users.id,service=shop,status_class=2xx ' +
      'count=2i,sum=8,min=2,max=6,p50=2,p90=2,p99=2,b32=1i,b83=1i 1763798400123000007',
    'jobs.done count=1i,sum=3,min=3,max=3 1763798400123000007',
  ].join('\n'))
})

test('status_class on every request series; the exact status only with statusCode, replacing a dimension of that name', () => {
  const e = entry('9-0', [
    record({ status: 404, dimensions: { status: 'dim' } }), record({ status: 401, dimensions: { status: 'dim' } }),
    record({ status: 0, aborted: true, dimensions: { status: 'dim' } }),
  ])
  const classes = seriesToLines(e.series(), '9000000').split('\n').filter((l) => l.startsWith('RequestTime'))
  assert.equal(classes.map((l) => l.split(' ')[0]).sort(), [
    'RequestTime,method=GET,route=users.id,status=dim,status_class=4xx',
    'RequestTime,method=GET,route=users.id,status=dim,status_class=aborted',
  ])
  assert.match(classes.find((l) => l.includes('4xx'))!, / count=2i,/)
  const codes = seriesToLines(e.series(), '9000000', { statusCode: true }).split('\n').filter((l) => l.startsWith('RequestTime'))
  assert.equal(codes.map((l) => l.split(' ')[0]).sort(), [
    'RequestTime,method=GET,route=users.id,status=0,status_class=aborted',
    'RequestTime,method=GET,route=users.id,status=401,status_class=4xx',
    'RequestTime,method=GET,route=users.id,status=404,status_class=4xx',
  ])
})

test('series that would share a point identity are merged; a counter named like a timer goes to <name>.counter', () => {
  const e = entry('5-0', [
    record({ dimensions: { service: 'shop', empty: '' }, counters: { db: 1 }, timers: { RequestTime: 1, db: 10 } }),
    record({ dimensions: { service: 'shop', route: 'ignored' }, counters: { db: 2 }, timers: { RequestTime: 3, db: 30 } }),
  ])
  const lines = seriesToLines(e.series(), entryTimestampNs(e.id) as string).split('\n').sort()
  // p50 of {10, 30} is the lower value's bucket (10.04, within 1.08 %); of {1, 3} it is clamped to min, 1.
  assert.equal(lines, [
    'RequestTime,method=GET,route=users.id,service=shop,status_class=2xx count=2i,sum=4,min=1,max=3,p50=1,p90=1,p99=1,b0=1i,b51=1i 5000000',
    'db,method=GET,route=users.id,service=shop,status_class=2xx count=2i,sum=40,min=10,max=30,' +
      'p50=10.042457069878013,p90=10.042457069878013,p99=10.042457069878013,b107=1i,b158=1i 5000000',
    'db.counter,method=GET,route=users.id,service=shop,status_class=2xx count=2i,sum=3,min=1,max=2 5000000',
  ])
  // The merge worked on copies: the entry's own series still hold one value each.
  assert.ok(e.series().every((s) => s.sketch === undefined || s.sketch.count === 1))
})

test('bad options throw an OptionError (a TypeError) naming the option', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ url: 'ftp://x', db: 'a' }, 'url'], [{ url: 'http://x' }, 'db'], [{ url: 'http://x', org: 'o', bucket: 'b' }, 'token'],
    [{ url: 'http://x', db: 'a', timeoutMs: 0 }, 'timeoutMs'], [{ url: 'http://x', db: 'a', statusCode: 'yes' }, 'statusCode'],
    [{ url: 'http://x', db: 'a', rp: 7 }, 'rp'], [{ url: 'http://x', db: 'a', onError: 'log' }, 'onError'],
    [{ url: 'http://x', org: '', bucket: 'b', token: 't' }, 'org'], [{}, 'url'],
  ]
  for (const [options, name] of cases) {
    try { influxPublisher(options as never); assert.unreachable(name) } catch (e) {
      assert.instance(e, TypeError)
      assert.instance(e, OptionError)
      assert.equal([(e as OptionError).owner, (e as OptionError).option], ['influxPublisher', name], (e as Error).message)
    }
  }
  assert.throws(() => influxPublisher({ url: 'http://x', db: '' }),
    (e: Error) => e.message ===
      'routemeter: influxPublisher option "db" must be a non-empty string (or give org, bucket and token for v2), got ""')
})

test('an option error never shows a URL, a password or a token', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ url: 'ftp://admin:hunter2@x', db: 'a' }, 'routemeter: influxPublisher option "url" must be an http(s) URL'],
    [{ url: 'http://x', db: 'a', password: 1234567 }, 'routemeter: influxPublisher option "password" must be a string, got number'],
    [{ url: 'http://x', org: 'o', bucket: 'b', token: 1234567 },
      'routemeter: influxPublisher option "token" must be a non-empty string (v2 needs org, bucket and token), got number'],
  ]
  for (const [options, message] of cases) {
    assert.throws(() => influxPublisher(options as never), (e: Error) => e.message === message, message)
  }
})

it('writes points InfluxDB reads back exactly, special characters included', async () => {
  const db = await newDb()
  const pub = influxPublisher({ url: influx.url, db })
  const nasty = 'a b,c=d\\e"f\'g é😀'
  const dimensions = { 'k ey,=': nasty, service: 'shop', edge: 'x\\,y\\' }
  await pub.publish([entry('1763798400000-1', [
    record({ route: nasty, dimensions, counters: { 'My Metric,x': 5 }, timers: { RequestTime: 1.5 } }),
    record({ route: nasty, dimensions, counters: { 'My Metric,x': 2 }, timers: { RequestTime: 3.5 } }),
  ])])
  await pub.close()
  // Without `epoch`, influxd answers the time as RFC 3339 text: as a JSON number, 1763798400000000001 would lose
  // its last digit (the entry's sequence number) to JSON.parse, and the check could not see it.
  const q = 'SELECT "count","sum","min","max","route","k ey,=","edge" FROM "RequestTime"'
  const res = await fetch(`${influx.url}/query?${new URLSearchParams({ db, q })}`)
  const body = await res.json() as InfluxQueryResult
  const series = body.results[0]?.series?.[0]
  assert.ok(series !== undefined, JSON.stringify(body))
  assert.equal(series.columns, ['time', 'count', 'sum', 'min', 'max', 'route', 'k ey,=', 'edge'])
  assert.equal(series.values, [['2025-11-22T08:00:00.000000001Z', 2, 5, 1.5, 3.5, nasty, nasty, 'x/,y/']])
  assert.is(await influx.scalar(db, 'SELECT sum("sum") FROM "My Metric,x"'), 7)
})

it('publishing the same entry twice leaves the counts unchanged (exactly-once)', async () => {
  const db = await newDb()
  const pub = influxPublisher({ url: influx.url, db })
  const batch = Array.from({ length: 10 }, () => record())
  const e1 = entry('1763798400000-0', batch)
  const e2 = entry('1763798400000-1', batch)
  await pub.publish([e1, e2])
  await pub.publish([e1])
  await pub.publish([e2, e1])
  await pub.close()
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"'), 20)
})

it('entries of two streams with the same id are two points, tagged with their stream; each stays exactly-once', async () => {
  const db = await newDb()
  const pub = influxPublisher({ url: influx.url, db })
  // Each stream's first entry in a millisecond is `<ms>-0`: the same id, so the same timestamp, in both.
  const eu = { ...entry('1763798400000-0', [record(), record()]), stream: 'routemeter:{eu}' }
  const us = { ...entry('1763798400000-0', [record(), record(), record()]), stream: 'routemeter:{us}' }
  await pub.publish([eu])
  await pub.publish([us])
  await pub.publish([eu, us]) // redelivered: overwrites its own points
  await pub.close()
  // Before, the second overwrote the first: 3 requests of 5.
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"'), 5)
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime" WHERE "stream" = \'routemeter:{eu}\''), 2)
})

it('a point InfluxDB refuses (400) rejects with a permanent PublishError', async () => {
  const db = await newDb()
  // A string field `count` first: our integer `count` then conflicts, which InfluxDB answers with 400.
  const res = await fetch(`${influx.url}/write?db=${db}`, {
    method: 'POST', body: 'RequestTime,route=users.id,method=GET,service=shop count="x" 1763798400000000000',
  })
  assert.is(res.status, 204)
  const pub = influxPublisher({ url: influx.url, db })
  try { await pub.publish([entry('1763798400000-0', [record()])]); assert.unreachable() } catch (e) {
    assert.instance(e, PublishError)
    assert.ok((e as PublishError).permanent, (e as Error).message)
    assert.match((e as Error).message, /400/)
  } finally { await pub.close() }
})

it('a missing database is created (CREATE DATABASE) and the write lands, with one warning', async () => {
  const db = `missing ${++dbNo} "q"`
  const warnings: Error[] = []
  const pub = influxPublisher({ url: influx.url, db, onError: (e) => warnings.push(e) })
  await pub.publish([entry('1763798400000-0', [record(), record()])])
  await pub.publish([entry('1763798400000-1', [record()])])
  await pub.close()
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"'), 3)
  assert.equal(warnings.map((w) => w.message), [`routemeter influx: database "missing ${dbNo} \\"q\\"" did not exist; created it`])
})

it('an unreachable server is a transient failure', async () => {
  const down = influxPublisher({ url: `http://127.0.0.1:${await freePort()}`, db: 'x', timeoutMs: 1000 })
  for (const pub of [down]) {
    try { await pub.publish([entry('1763798400000-0', [record()])]); assert.unreachable() } catch (e) {
      assert.instance(e, PublishError)
      assert.not.ok((e as PublishError).permanent, (e as Error).message)
    } finally { await pub.close() }
  }
})

test('an error answer with an endless body is read up to 64 KB: the publish fails at once with its status, not its timeout', async () => {
  let sent = 0
  const server = createServer((req, res) => {
    req.resume()
    res.writeHead(503, { 'content-type': 'text/plain' })
    const chunk = 'overloaded '.repeat(1500)
    // As much as the connection takes, for as long as it stays open.
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk)) sent += chunk.length
      if (!res.destroyed) res.once('drain', pump)
    }
    pump()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const pub = influxPublisher({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, db: 'x', timeoutMs: 10_000 })
  const started = performance.now()
  try {
    const error = await pub.publish([entry('1763798400000-0', [record()])]).then(() => undefined, (e: unknown) => e)
    const took = performance.now() - started
    assert.instance(error, PublishError)
    assert.match((error as Error).message, /503/)
    assert.match((error as Error).message, /overloaded/)
    // Before, the whole body was read: this one never ends, so the write only failed at its 10 s timeout.
    assert.ok(took < 3000, `failed after ${took} ms`)
  } finally {
    await pub.close()
    server.closeAllConnections()
    server.close()
  }
  assert.ok(sent < 64 * 1024 * 1024, `the server wrote ${sent} bytes before the agent let go`)
})

/** A real HTTP server answering each request with `answer`, recording what it received. */
interface Received { url: string, headers: IncomingHttpHeaders, body: string }
async function recordingServer(answer: (req: Received) => { status: number, body: string }) {
  const seen: Received[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      const got = { url: req.url ?? '', headers: req.headers, body }
      seen.push(got)
      const out = answer(got)
      res.statusCode = out.status
      res.end(out.body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { port, seen, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }) }
}

// influxd 1.6 creates databases for anyone when auth is off (the test server); with auth on, a non-admin
// gets a 403 for CREATE DATABASE. This server answers as such an influxd does.
test('when the database cannot be created, the error says exactly what to run', async () => {
  const refusal = 'error authorizing query: writer not authorized to execute statement \'CREATE DATABASE metrics\', ' +
    'requires admin privilege'
  const server = await recordingServer((req) => req.url.startsWith('/write')
    ? { status: 404, body: '{"error":"database not found: \\"metrics\\""}' }
    : { status: 403, body: JSON.stringify({ error: refusal }) })
  const pub = influxPublisher({ url: `http://writer:s3cret@127.0.0.1:${server.port}`, db: 'metrics' })
  try {
    try { await pub.publish([entry('1763798400000-0', [record()])]); assert.unreachable() } catch (e) {
      assert.instance(e, PublishError)
      assert.not.ok((e as PublishError).permanent)
      const message = (e as Error).message
      assert.match(message, /database "metrics" does not exist/)
      assert.match(message, /requires admin privilege/)
      assert.ok(message.includes(`influx -host 127.0.0.1 -port ${server.port} -execute 'CREATE DATABASE "metrics"'`), message)
      assert.not.ok(message.includes('s3cret'), message)
    }
    const create = server.seen.find((r) => r.url.startsWith('/query'))
    assert.ok(create !== undefined)
    assert.is(new URLSearchParams(create.body).get('q'), 'CREATE DATABASE "metrics"')
    assert.is(create.headers.authorization, 'Basic ' + Buffer.from('writer:s3cret').toString('base64'))
  } finally {
    await pub.close()
    await server.close()
  }
})

test('a 401 that echoes the request never puts any form of the credential in the error', async () => {
  let pad = 0
  const server = await recordingServer((req) => ({
    status: 401,
    body: JSON.stringify({ error: 'authorization failed', pad: 'x'.repeat(pad), echo: `Authorization: ${req.headers.authorization}`,
      url: req.url }),
  }))
  const user = 'us er'
  const password = 'p@ss:w"rd'
  const credentials = `${encodeURIComponent(user)}:${encodeURIComponent(password)}`
  const pub = influxPublisher({ url: `http://${credentials}@127.0.0.1:${server.port}`, db: 'metrics' })
  const base64 = Buffer.from(`${user}:${password}`).toString('base64')
  try {
    // The whole echo, then an echo cut by the 500-character limit on what is kept of a body, 10 characters
    // into the base64 (the JSON before it is 70 characters plus the padding).
    for (const padding of [0, 500 - 70 - 10]) {
      pad = padding
      try { await pub.publish([entry('1763798400000-0', [record()])]); assert.unreachable() } catch (e) {
        const message = (e as Error).message
        assert.match(message, /401/)
        const forms = [password, encodeURIComponent(password), JSON.stringify(password).slice(1, -1), base64, base64.slice(0, 8),
          'Basic ' + base64.slice(0, 4)]
        for (const form of forms) {
          assert.not.ok(message.includes(form), `${form} in ${message}`)
        }
      }
    }
  } finally {
    await pub.close()
    await server.close()
  }
})

// No server runnable here implements the v2 API (the Debian influxd is 1.6), so this checks the request
// shape against a tiny real HTTP server that records what it receives, as InfluxDB 2.x documents it.
test('the v2 API gets /api/v2/write with org, bucket, ns precision and a Token header; the token is never in errors', async () => {
  const seen: Array<{ url: string, headers: IncomingHttpHeaders, body: string }> = []
  let status = 204
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, body })
      res.statusCode = status
      res.end(status === 204 ? '' : '{"code":"invalid","message":"token s3cr3t-token bad"}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const pub = influxPublisher({ url: `http://127.0.0.1:${port}/`, org: 'my org', bucket: 'web&co', token: 's3cr3t-token' })
  try {
    await pub.publish([entry('1763798400000-3', [record()])])
    assert.is(seen[0].url, '/api/v2/write?org=my+org&bucket=web%26co&precision=ns')
    assert.is(seen[0].headers.authorization, 'Token s3cr3t-token')
    assert.match(String(seen[0].headers['content-type']), /^text\/plain/)
    const failure = /^Failure,method=GET,route=users\.id,service=shop,status_class=2xx count=1i,sum=0,min=0,max=0 1763798400000000003$/m
    assert.match(seen[0].body, failure)
    status = 401
    try { await pub.publish([entry('1763798400000-4', [record()])]); assert.unreachable() } catch (e) {
      assert.instance(e, PublishError)
      assert.not.ok((e as PublishError).permanent)
      assert.not.ok((e as Error).message.includes('s3cr3t-token'), (e as Error).message)
    }
    // v1 with credentials in the URL: basic auth, rp passed on, the password never in errors.
    const v1 = influxPublisher({ url: `http://admin:pa%20ss@127.0.0.1:${port}`, db: 'metrics', rp: 'week' })
    status = 500
    try { await v1.publish([entry('1763798400000-5', [record()])]); assert.unreachable() } catch (e) {
      assert.not.ok((e as PublishError).permanent)
      assert.not.ok((e as Error).message.includes('pa ss'), (e as Error).message)
    } finally { await v1.close() }
    const last = seen[seen.length - 1]
    assert.is(last.url, '/write?db=metrics&precision=ns&rp=week')
    assert.is(last.headers.authorization, 'Basic ' + Buffer.from('admin:pa ss').toString('base64'))
  } finally {
    await pub.close()
    server.close()
  }
})

test.run()
