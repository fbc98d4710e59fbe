import http from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { memorySink, metrics, withMetrics } from '../../src/index.js'
import { aggregate } from '../../src/agent/aggregate.js'
import { fetchText, listen } from '../support/http.js'
import {
  decodeEntry, encodeBatch, forEachMetric, StreamDecodeError, toRecords, STREAM_ENCODING_VERSION,
} from '../../src/wire/stream-encoding.js'
import { flushSink } from '../../src/pipeline/registry.js'

const dims = { service: 'shop', env: 'prod' }

function request(i: number, over: Partial<MetricRecord> = {}): MetricRecord {
  return {
    kind: 'request', prefix: '', route: i % 2 ? 'users.id' : 'health', method: i % 3 ? 'GET' : 'POST',
    status: i % 5 ? 200 : 503, aborted: false, dimensions: dims,
    counters: { Failure: i % 5 ? 0 : 1, ClientError: 0, Aborted: 0 },
    timers: { RequestTime: 1.25 + i / 1000, CpuTime: 0.4 },
    timestamp: 1763798400000 + i, ...over,
  }
}

/** Through schema v=1, the one that carries records (v=2 carries summaries: stream-summary.test.ts). */
function decodeAll(batch: MetricRecord[], maxBytes?: number): MetricRecord[] {
  const { entries } = encodeBatch(batch, maxBytes, { version: 1 })
  return entries.flatMap((e) => toRecords(decodeEntry(e.v, e.p)))
}

test('a batch survives encode then decode unchanged', () => {
  const batch = Array.from({ length: 50 }, (_, i) => request(i))
  batch.push({
    kind: 'process', prefix: 'app', route: '', method: '', status: 0, aborted: false, dimensions: {},
    counters: { 'jobs.done': 3 }, timers: {}, timestamp: 1763798399000,
  })
  batch.push(request(7, { aborted: true, status: 0, dimensions: { tenant: 'a=b,c d\n"é' } }))
  assert.equal(decodeAll(batch), batch)
})

test('records differing only in prefix, kind or dimensions stay distinct', () => {
  const base = request(1)
  const batch: MetricRecord[] = [
    base, { ...base, prefix: 'shop' }, { ...base, kind: 'process' }, { ...base, dimensions: { service: 'other' } },
    { ...base, dimensions: { ...dims } },
  ]
  assert.equal(decodeAll(batch), batch)
})

test('one batch becomes one entry carrying version 2 and the record count', () => {
  const { entries, dropped } = encodeBatch(Array.from({ length: 10 }, (_, i) => request(i)))
  assert.is(entries.length, 1)
  assert.is(entries[0].v, STREAM_ENCODING_VERSION)
  assert.is(STREAM_ENCODING_VERSION, '2')
  assert.is(entries[0].n, 10)
  assert.is(dropped, 0)
})

test('a typical request costs well under 100 bytes in an entry, in either schema', () => {
  for (const version of [1, 2] as const) {
    const { entries } = encodeBatch(Array.from({ length: 1000 }, (_, i) => request(i)), undefined, { version })
    assert.ok(entries[0].bytes / 1000 < 100, `v${version}: ${entries[0].bytes / 1000} bytes per record`)
  }
})

test('a batch bigger than the byte cap splits into entries that each fit, in record order', () => {
  const batch = Array.from({ length: 2000 }, (_, i) => request(i))
  const { entries } = encodeBatch(batch, 8 * 1024, { version: 1 })
  assert.ok(entries.length > 5, `${entries.length} entries`)
  for (const e of entries) assert.ok(e.bytes <= 8 * 1024, `${e.bytes} bytes`)
  assert.equal(entries.reduce((n, e) => n + e.n, 0), 2000)
  assert.equal(decodeAll(batch, 8 * 1024), batch)
})

test('the byte cap counts UTF-8 bytes, not string length', () => {
  const wide = Array.from({ length: 200 }, (_, i) => request(i, { route: `ü€😀${i}`.repeat(8) }))
  const { entries } = encodeBatch(wide, 4096)
  for (const e of entries) assert.ok(Buffer.byteLength(e.p) === e.bytes && e.bytes <= 4096)
  assert.equal(entries.reduce((n, e) => n + e.n, 0), 200)
})

test('a single record larger than the cap is dropped and counted, the rest still go', () => {
  const batch = [request(1), request(2, { dimensions: { big: 'x'.repeat(5000) } }), request(3)]
  const { entries, dropped } = encodeBatch(batch, 2048, { version: 1 })
  assert.is(dropped, 1)
  assert.equal(entries.flatMap((e) => toRecords(decodeEntry(e.v, e.p))), [batch[0], batch[2]])
})

test('non-finite metric values are left out instead of corrupting the entry', () => {
  const [r] = decodeAll([request(1, { timers: { RequestTime: NaN, CpuTime: Infinity, Ok: 2 } })])
  assert.equal(r.timers, { Ok: 2 })
})

test('values beyond ±1e15 are left out of an entry and counted, so no agent sum can overflow', () => {
  const before = metrics.stats().dropped.value ?? 0
  const batch = [1, 2].map((i) => request(i, { counters: { big: 1e308, neg: -1e16, edge: 1e15 }, timers: { RequestTime: 1, NaN: NaN } }))
  const records = decodeAll(batch)
  assert.equal(records.map((r) => r.counters), [{ edge: 1e15 }, { edge: 1e15 }])
  assert.is((metrics.stats().dropped.value ?? 0) - before, 6)
})

test('names equal to Object.prototype keys travel from the app through the stream to the agent aggregate', async () => {
  const sink = memorySink()
  const { url, close } = await listen(http.createServer(withMetrics((_req, res) => {
    metrics.count('__proto__', 2)
    metrics.timing('__proto__', 3)
    metrics.count('constructor')
    metrics.dimension('__proto__', 'p')
    res.end()
  }, { sink })))
  await fetchText(`${url}/proto`)
  await flushSink(sink)
  await close()
  const { entries } = encodeBatch(sink.records())
  const batch = decodeEntry(entries[0].v, entries[0].p)
  const series = aggregate(batch).map((s) => `${s.type} ${s.name} ${s.sum}`)
  assert.ok(series.includes('counter __proto__ 2'), series.join('\n'))
  assert.ok(series.includes('timer __proto__ 3'), series.join('\n'))
  assert.ok(series.includes('counter constructor 1'), series.join('\n'))
  assert.is(Object.getOwnPropertyDescriptor(batch.groups[0].dimensions, '__proto__')?.value, 'p')
})

test('an empty batch encodes to no entry', () => {
  assert.equal(encodeBatch([]).entries, [])
})

test('dimension sets that only a NUL inside a value tells apart stay distinct, in either schema', () => {
  // A value may hold NUL (only names are refused for it): { tenant: 'a\0zone\0b' } and { tenant: 'a', zone: 'b' }
  // must not share one dimension set.
  const batch = [request(1, { dimensions: { tenant: 'a\u0000zone\u0000b' } }), request(1, { dimensions: { tenant: 'a', zone: 'b' } })]
  assert.equal(decodeAll(batch), batch)
  const { entries } = encodeBatch(batch)
  const decoded = decodeEntry(entries[0].v, entries[0].p)
  assert.equal(decoded.groups.map((g) => g.dimensions), batch.map((r) => r.dimensions))
})

test('a dimension named __proto__ stays an own key and does not touch prototypes', () => {
  const dimsProto = JSON.parse('{"__proto__":"x"}') as Record<string, string>
  const [r] = decodeAll([request(1, { dimensions: dimsProto })])
  assert.is(Object.getPrototypeOf(r.dimensions), Object.prototype)
  assert.equal(Object.keys(r.dimensions), ['__proto__'])
})

test('forEachMetric visits every timer value and every counter sum with its group (v=2)', () => {
  const { entries } = encodeBatch(Array.from({ length: 30 }, (_, i) => request(i)))
  const batch = decodeEntry(entries[0].v, entries[0].p)
  let timers = 0
  let failures = 0
  forEachMetric(batch, (g, type, name, value) => {
    assert.ok(batch.groups[g] !== undefined)
    if (type === 'timer' && batch.strings[name] === 'RequestTime') timers++
    if (type === 'counter' && batch.strings[name] === 'Failure') failures += value
  })
  assert.is(timers, 30)
  assert.is(failures, 6)
})

test('decode rejects an unknown version with a StreamDecodeError of reason version', () => {
  const { entries } = encodeBatch([request(1)])
  for (const v of ['3', '', undefined, 1, 2]) {
    try { decodeEntry(v, entries[0].p); assert.unreachable() } catch (e) {
      assert.instance(e, StreamDecodeError)
      assert.is((e as StreamDecodeError).reason, 'version')
    }
  }
})

test('decode rejects garbage with a StreamDecodeError and never anything else', () => {
  const good = JSON.parse(encodeBatch([request(1), request(2)], undefined, { version: 1 }).entries[0].p) as Record<string, unknown[]>
  const bad: unknown[] = [
    undefined, 42, '', 'not json', '[]', 'null', '{}', '{"t":"x","s":[],"d":[],"g":[],"r":[]}',
    JSON.stringify({ ...good, s: [1] }),
    JSON.stringify({ ...good, d: [[0]] }),
    JSON.stringify({ ...good, d: [[0, 99]] }),
    JSON.stringify({ ...good, g: [0, 0, 0] }),
    JSON.stringify({ ...good, g: [2, 0, 0, 0, 0] }),
    JSON.stringify({ ...good, g: [0, 0, 0, 0, 7] }),
    JSON.stringify({ ...good, r: [0, 200, 0] }),
    JSON.stringify({ ...good, r: [9, 200, 0, 0, 0, 0] }),
    JSON.stringify({ ...good, r: [0, 200, 0, 0, 5, 0, 1] }),
    JSON.stringify({ ...good, r: [0, 200, 0, 0, 1, 99, 1, 0] }),
    JSON.stringify({ ...good, r: [0, 200, 0, 0, 1, 0, 'x', 0] }),
    JSON.stringify({ ...good, r: [0, 200, 0, 0, 0, -1] }),
  ]
  // Plus every truncation of a real payload: none may throw anything but StreamDecodeError.
  const text = encodeBatch([request(1), request(2)], undefined, { version: 1 }).entries[0].p
  for (let cut = 0; cut < text.length; cut += 3) bad.push(text.slice(0, cut))
  for (const p of bad) {
    try { decodeEntry('1', p); assert.unreachable(`accepted ${String(p)}`) } catch (e) {
      assert.instance(e, StreamDecodeError, `threw ${String(e)} for ${String(p)}`)
      assert.is((e as StreamDecodeError).reason, 'malformed')
    }
  }
})

test.run()
