import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { aggregate } from '../../src/agent/aggregate.js'
import { SKETCH_RELATIVE_ERROR } from '../../src/wire/sketch.js'
import { decodeEntry, encodeBatch, forEachMetric, StreamDecodeError, toRecords } from '../../src/wire/stream-encoding.js'
import { lognormal } from '../support/random.js'

function request(i: number, over: Partial<MetricRecord> = {}): MetricRecord {
  const status = i % 50 === 0 ? 500 : i % 20 === 0 ? 404 : 200
  return {
    kind: 'request', prefix: '', route: `r${i % 7}`, method: i % 4 ? 'GET' : 'POST', status, aborted: false,
    dimensions: { service: 'shop' }, counters: { Failure: status >= 500 ? 1 : 0, ClientError: status === 404 ? 1 : 0 },
    timers: { RequestTime: 0.5 + (i % 97) / 10, CpuTime: 0.1 + (i % 13) / 100 }, timestamp: 1763798400000 + i, ...over,
  }
}

/** The agent's series of a batch sent through v=1 (every value) and v=2 (summaries), keyed alike. */
function bothWays(batch: MetricRecord[]): Array<Map<string, { count: number, sum: number, min: number, max: number, p50: number }>> {
  return ([1, 2] as const).map((version) => {
    const out = new Map<string, { count: number, sum: number, min: number, max: number, p50: number }>()
    for (const e of encodeBatch(batch, undefined, { version }).entries) {
      for (const s of aggregate(decodeEntry(e.v, e.p))) {
        const key = [s.group.kind, s.group.route, s.group.method, s.group.status, s.group.aborted, s.statusClass, s.type, s.name].join(' ')
        out.set(key, { count: s.count, sum: Math.round(s.sum * 1e6) / 1e6, min: s.min, max: s.max, p50: s.sketch?.quantile(0.5) ?? NaN })
      }
    }
    return out
  })
}

test('v=2 gives the agent the same series as v=1: exact counts, sums, min, max, status and quantiles', () => {
  const batch = Array.from({ length: 3000 }, (_, i) => request(i))
  batch.push(request(1, { aborted: true, status: 0, counters: { Aborted: 1 } }))
  batch.push({ ...request(2), kind: 'process', route: '', method: '', status: 0, counters: { 'jobs.done': 3 }, timers: {} })
  const [v1, v2] = bothWays(batch)
  assert.equal([...v2.keys()].sort(), [...v1.keys()].sort())
  for (const [key, a] of v1) assert.equal(v2.get(key), a, key)
  // The status codes made it into the series: request(i) answers 404 for i a multiple of 20 (not of 50), a POST.
  const notFoundOnR6 = Array.from({ length: 3000 }, (_, i) => i).filter((i) => i % 50 !== 0 && i % 20 === 0 && i % 7 === 6).length
  assert.is(v2.get('request r6 POST 404 false 4xx timer RequestTime')?.count, notFoundOnR6)
  assert.equal(v2.get('request r1 GET 0 true aborted counter Aborted'), { count: 1, sum: 1, min: 1, max: 1, p50: NaN })
})

test('v=2 keeps apart records that differ in any one part of the group: kind, prefix, route, method, dimensions, status, abort', () => {
  const base = request(1, { status: 200, method: 'GET', route: 'r1', dimensions: { service: 'shop' } })
  const variants: Array<Partial<MetricRecord>> = [
    {}, { kind: 'process' }, { prefix: 'shop' }, { route: 'r2' }, { method: 'POST' }, { dimensions: { service: 'cart' } },
    { dimensions: {} }, { status: 201 }, { aborted: true },
  ]
  // Each variant twice, interleaved, so a group that two variants shared would count four.
  const batch = [...variants, ...variants].map((over) => ({ ...base, ...over }))
  const [entry] = encodeBatch(batch).entries
  const groups = new Map<string, number>()
  for (const s of aggregate(decodeEntry(entry!.v, entry!.p))) {
    if (s.name !== 'RequestTime') continue
    const g = s.group
    groups.set([g.kind, g.prefix, g.route, g.method, JSON.stringify(g.dimensions), g.status, g.aborted].join(' '), s.count)
  }
  assert.is(groups.size, variants.length, [...groups.keys()].join('\n'))
  assert.ok([...groups.values()].every((n) => n === 2), JSON.stringify([...groups]))
})

test('v=2 matches v=1 where the encoder leaves its fast path: a route with more groups than it scans, metrics in any order', () => {
  // One route in 2 methods × 12 statuses × 2 dimension sets (48 groups, past the 8 compared field by field). Every
  // group sees its counters in three orders and sets (a `Hits` in some, no `ClientError` in others), and its
  // timers with and without a `DbTime` in front of `RequestTime`.
  const orders = [['Failure', 'ClientError', 'Hits'], ['Hits', 'Failure'], ['ClientError', 'Failure']]
  const shop = { service: 'shop' }
  const batch = Array.from({ length: 2400 }, (_, i): MetricRecord => {
    const counters: Record<string, number> = {}
    for (const name of orders[Math.floor(i / 48) % 3]!) counters[name] = (i % 5) + name.length
    const timers: Record<string, number> = Math.floor(i / 144) % 2 === 0 ? { DbTime: i % 11 } : {}
    timers.RequestTime = 1 + (i % 37)
    return {
      ...request(i), route: 'r', method: Math.floor(i / 24) % 2 ? 'GET' : 'POST', status: 200 + (i % 12), counters, timers,
      dimensions: i % 24 < 12 ? shop : { service: 'cart' },
    }
  })
  const [v1, v2] = bothWays(batch)
  assert.equal([...v2.keys()].sort(), [...v1.keys()].sort())
  for (const [key, a] of v1) assert.equal(v2.get(key), a, key)
  const [entry] = encodeBatch(batch).entries
  const series = aggregate(decodeEntry(entry!.v, entry!.p))
  const groups = new Set(series.map((s) => [s.group.method, s.group.status, s.group.dimensions.service].join(' ')))
  assert.is(groups.size, 48)
})

test('the v=2 payload of a fixed batch is, byte for byte, the one the encoder wrote before its fast path (2026-12-04)', () => {
  // Two routes, two methods, two statuses, two dimension objects, and records whose counters come in another order
  // and set (`Hits` first): the expected text was written by the build before the change.
  const shop = { service: 'shop' }
  const batch = Array.from({ length: 12 }, (_, i): MetricRecord => ({
    kind: 'request', prefix: '', route: i % 3 ? 'users.id' : 'orders', method: i % 4 ? 'GET' : 'POST', status: i % 5 ? 200 : 404,
    aborted: false, dimensions: i % 6 ? shop : { service: 'cart' },
    counters: i % 7 ? { Failure: 0, ClientError: i % 5 ? 0 : 1 } : { Hits: 2, Failure: 0 },
    timers: { RequestTime: 1 + i / 4, CpuTime: i / 8 }, timestamp: 1763798400000 + i,
  }))
  assert.is(
    encodeBatch(batch).entries[0]!.p,
    '{"t":1763798400000,"s":["service","cart","","orders","POST","Hits","Failure","RequestTime","CpuTime","shop","u' +
    'sers.id","GET","ClientError"],"d":[[0,1],[0,9]],"g":[0,2,3,4,0,404,0,1,0,2,10,11,1,200,0,4,0,2,3,11,1,200,0,2,' +
    '0,2,10,4,1,200,0,2,0,2,10,11,1,404,0,2,0,2,3,11,0,200,0,1],"m":[2,5,1,2,6,1,0,2,7,1,1,8,1,0,3,6,4,0,0,0,12,3,0' +
    ',0,0,5,1,2,2,7,4,9.25,1.25,3.75,0,8,11,1,-7,1,-27,1,-14,1,0,8,4,2.625,0.125,1.375,0,8,-96,1,-31,1,-57,1,-20,1,' +
    '0,2,6,2,0,0,0,12,2,0,0,0,2,7,2,5,1.75,3.25,0,4,26,1,-28,1,0,8,2,1.5,0.375,1.125,0,4,-45,1,-50,1,0,2,6,2,0,0,0,' +
    '12,2,0,0,0,2,7,2,5,2,3,0,4,32,1,-18,1,0,8,2,1.5,0.5,1,0,4,-32,1,-31,1,0,2,6,2,0,0,0,12,2,2,1,1,2,7,2,5.75,2.25' +
    ',3.5,0,4,38,1,-19,1,0,8,2,1.875,0.625,1.25,0,4,-21,1,-31,1,0,2,6,1,0,12,1,0,2,7,1,2.5,8,1,0.75]}',
  )
})

test('a v=2 entry of 2,000 requests takes under a sixth of the bytes of v=1, and never more than 1.5× at one request a group', () => {
  const big = Array.from({ length: 2000 }, (_, i) => request(i))
  const bytes = (b: MetricRecord[], version: 1 | 2): number =>
    encodeBatch(b, undefined, { version }).entries.reduce((n, e) => n + e.bytes, 0)
  assert.ok(bytes(big, 2) * 6 < bytes(big, 1), `${bytes(big, 2)} vs ${bytes(big, 1)}`)
  // The worst case for summaries: every record alone in its group.
  const sparse = Array.from({ length: 40 }, (_, i) => request(i, { route: `only${i}` }))
  assert.ok(bytes(sparse, 2) <= 1.5 * bytes(sparse, 1), `${bytes(sparse, 2)} vs ${bytes(sparse, 1)}`)
})

test('a v=2 batch bigger than the byte cap splits into entries that each fit, none lost', () => {
  const times = lognormal(4000, 1, 1, 5)
  const batch = Array.from({ length: 4000 }, (_, i) => request(i, { route: `r${i % 300}`, timers: { RequestTime: times[i] } }))
  const { entries, dropped } = encodeBatch(batch, 4096)
  assert.is(dropped, 0)
  assert.ok(entries.length > 3, `${entries.length} entries`)
  for (const e of entries) assert.ok(e.bytes <= 4096 && e.v === '2')
  const decoded = entries.map((e) => decodeEntry(e.v, e.p))
  assert.is(decoded.reduce((n, b) => n + b.count, 0), 4000)
  assert.is(decoded.reduce((n, b) => n + b.requests, 0), 4000)
  assert.is(Math.min(...decoded.map((b) => b.baseTimestamp)), 1763798400000)
})

test('forEachMetric on v=2 visits each timer value once: exact min and max, the rest within the sketch error', () => {
  const values = lognormal(500, 1, 1, 9)
  const batch = values.map((v, i) => request(i, { route: 'one', method: 'GET', status: 200, counters: {}, timers: { RequestTime: v } }))
  const [e] = encodeBatch(batch).entries
  const seen: number[] = []
  forEachMetric(decodeEntry(e.v, e.p), (_g, type, _n, value) => { if (type === 'timer') seen.push(value) })
  const sorted = [...values].sort((a, b) => a - b)
  assert.is(seen.length, 500)
  assert.is(seen[0], sorted[0])
  assert.is(seen[seen.length - 1], sorted[sorted.length - 1])
  for (let i = 0; i < 500; i++) {
    assert.ok(Math.abs(seen[i] / sorted[i] - 1) <= SKETCH_RELATIVE_ERROR + 1e-12, `${i}: ${seen[i]} vs ${sorted[i]}`)
  }
})

test('toRecords refuses a v=2 batch: it holds summaries, not records', () => {
  const [e] = encodeBatch([request(1)]).entries
  assert.throws(() => toRecords(decodeEntry(e.v, e.p)), (err: Error) => err instanceof TypeError)
})

test('decode rejects malformed v=2 payloads with a StreamDecodeError and never anything else', () => {
  const text = encodeBatch([request(1), request(2), request(20)]).entries[0].p
  const good = JSON.parse(text) as Record<string, unknown[]>
  const bad: unknown[] = [
    JSON.stringify({ ...good, m: undefined }), JSON.stringify({ ...good, g: [0, 0, 0, 0, 0, 200, 0] }),
    JSON.stringify({ ...good, g: [0, 0, 0, 0, 0, 1000, 0, 1] }), JSON.stringify({ ...good, g: [0, 0, 0, 0, 0, 200, 2, 1] }),
    JSON.stringify({ ...good, g: [0, 0, 0, 0, 0, 200, 0, 0] }), JSON.stringify({ ...good, m: [...good.m, 0] }),
    JSON.stringify({ ...good, m: good.m.map((x) => (x === 1 ? 2 : x)) }),
    JSON.stringify({ ...good, m: good.m.map((x) => (typeof x === 'number' && x > 1 ? 1e16 : x)) }),
  ]
  for (let cut = 0; cut < text.length; cut += 2) bad.push(text.slice(0, cut))
  for (const p of bad) {
    try { decodeEntry('2', p); assert.unreachable(`accepted ${String(p)}`) } catch (err) {
      assert.instance(err, StreamDecodeError, `threw ${String(err)} for ${String(p)}`)
    }
  }
})

test('sketches: only the timers named get a sketch; the others keep exact count, sum, min and max, checked alike', () => {
  const batch = Array.from({ length: 500 }, (_, i) =>
    request(i, { status: 200, counters: {}, timers: { RequestTime: 1 + i / 10, CpuTime: 0.1 + (i % 13) / 100, 'db.q': i } }))
  const [e] = encodeBatch(batch).entries
  const all = decodeEntry(e.v, e.p)
  const some = decodeEntry(e.v, e.p, { sketches: new Set(['RequestTime']) })
  assert.is(some.summaries.length, all.summaries.length)
  let timers = 0
  for (let i = 0; i < all.summaries.length; i++) {
    const [a, b] = [all.summaries[i], some.summaries[i]]
    assert.equal([b.group, b.type, b.name, b.count, b.sum, b.min, b.max], [a.group, a.type, a.name, a.count, a.sum, a.min, a.max])
    if (a.type !== 'timer') continue
    timers++
    if (all.strings[a.name] === 'RequestTime') assert.equal(b.sketch, a.sketch)
    else assert.is(b.sketch, undefined, all.strings[a.name])
  }
  assert.ok(timers >= 3 * 7, `${timers} timer summaries`)
  // A timer without a sketch is checked the same: the last group's last timer (db.q, 35 values) with a bad run count.
  const good = JSON.parse(e.p) as { m: number[] }
  const broken = JSON.stringify({ ...good, m: good.m.map((x, i) => (i === good.m.length - 1 ? x + 1 : x)) })
  for (const sketches of [undefined, new Set<string>()]) {
    try { decodeEntry('2', broken, { sketches }); assert.unreachable('accepted') } catch (err) { assert.instance(err, StreamDecodeError) }
  }
})

test('a hand-built record with an impossible status still travels (as status 0)', () => {
  const [e] = encodeBatch([request(1, { status: 12345 })]).entries
  assert.is(decodeEntry(e.v, e.p).groups[0].status, 0)
})

test('a hand-built record without dimensions makes the encoder throw (the sink counts the batch), never an entry the agent refuses', () => {
  for (const batch of [[request(1, { dimensions: undefined as never })], [request(1, { dimensions: null as never })]]) {
    assert.throws(() => encodeBatch(batch))
  }
})

test('a group whose values are each within ±1e15 but sum beyond it still decodes, with the exact sum', () => {
  // Each value passed the door; the group's sum (1.2e15) is over the per-value bound, and the agent took the
  // whole entry, every route of the flush, for malformed.
  const big = (sign: number): MetricRecord => request(1, { counters: { bytes: sign * 6e14 }, timers: { RequestTime: 6e14 } })
  const [e] = encodeBatch([big(1), big(1), big(-1), big(-1), big(-1)].map((r, i) => ({ ...r, status: i < 2 ? 200 : 201 }))).entries
  const sums = decodeEntry(e.v, e.p).summaries.map((s) => [s.type, s.count, s.sum])
  assert.equal(sums, [['counter', 2, 1.2e15], ['timer', 2, 1.2e15], ['counter', 3, -1.8e15], ['timer', 3, 1.8e15]])
})

test.run()
