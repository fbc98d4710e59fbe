/**
 * prometheusPublisher without a Prometheus: the exposition text is well formed (every line a comment or a
 * sample, `le` cumulative and ascending, `+Inf` = `_count`), counts are exact, redeliveries are skipped,
 * label sets are capped into an overflow series, and `/metrics` is served over HTTP.
 */
import http from 'node:http'
import net from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { prometheusPublisher } from '../../src/agent/prometheus-publisher.js'
import { labelValue, PrometheusState, snakeName } from '../../src/agent/prometheus-exposition.js'
import type { MetricRecord } from '../../src/wire/record.js'
import { entryOf } from '../support/entries.js'
import { latencyLoad } from '../support/prometheus.js'
import { OptionError } from '../../src/util/option-check.js'

const test = suite('prometheus exposition')

interface Sample { name: string, labels: Record<string, string>, value: number }

/** A strict parser of the text format 0.0.4 subset we write; throws on any line it cannot read. */
function parse(text: string): { samples: Sample[], types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  assert.ok(text.endsWith('\n'), 'ends with a line feed')
  for (const line of text.slice(0, -1).split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|histogram)$/.exec(line)
    if (type !== null) { assert.not.ok(types.has(type[1]), `one TYPE per family: ${type[1]}`); types.set(type[1], type[2]); continue }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    assert.ok(m, `a sample line: ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    const body = m![2] ?? ''
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy
    let at = 0
    while (at < body.length) {
      re.lastIndex = at
      const l = re.exec(body)
      assert.ok(l, `labels: ${body}`)
      assert.not.ok(l![1] in labels, `label once: ${l![1]}`)
      labels[l![1]] = l![2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
      at = re.lastIndex
    }
    const value = m![3] === '+Inf' ? Infinity : Number(m![3])
    assert.ok(!Number.isNaN(value), `a number: ${m![3]}`)
    samples.push({ name: m![1], labels, value })
  }
  return { samples, types }
}

const key = (labels: Record<string, string>): string => JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort())

function checkHistograms(parsed: ReturnType<typeof parse>): void {
  for (const [family, type] of parsed.types) {
    if (type !== 'histogram') continue
    const buckets = new Map<string, Sample[]>()
    for (const s of parsed.samples.filter((x) => x.name === `${family}_bucket`)) {
      const k = key(s.labels)
      if (!buckets.has(k)) buckets.set(k, [])
      buckets.get(k)!.push(s)
    }
    assert.ok(buckets.size > 0, `${family} has buckets`)
    for (const [k, list] of buckets) {
      const les = list.map((s) => (s.labels.le === '+Inf' ? Infinity : Number(s.labels.le)))
      for (let i = 1; i < list.length; i++) {
        assert.ok(les[i] > les[i - 1], `${family} ${k}: le ascending`)
        assert.ok(list[i].value >= list[i - 1].value, `${family} ${k}: cumulative`)
      }
      assert.is(les.at(-1), Infinity, '+Inf last')
      const count = parsed.samples.find((s) => s.name === `${family}_count` && key(s.labels) === k)
      assert.ok(count, `${family} ${k} has _count`)
      assert.is(list.at(-1)!.value, count!.value, `${family} ${k}: +Inf = _count`)
    }
  }
}

test('the exposition parses, le buckets are cumulative, +Inf equals _count, and request counts are exact', async () => {
  const { entries, times } = latencyLoad(10, 300)
  const state = new PrometheusState()
  for (const e of entries) state.merge(e.series())
  const parsed = parse(state.render())
  checkHistograms(parsed)
  assert.is(parsed.types.get('http_server_request_duration_seconds'), 'histogram')
  assert.is(parsed.types.get('routemeter_cpu_time_milliseconds'), 'histogram')
  assert.is(parsed.types.get('routemeter_failure_total'), 'counter')
  const sum = (name: string, where: (l: Record<string, string>) => boolean = () => true): number =>
    parsed.samples.filter((s) => s.name === name && where(s.labels)).reduce((a, s) => a + s.value, 0)
  assert.is(sum('http_server_request_duration_seconds_count'), 3000)
  for (const [route, perEntry] of times) {
    assert.is(sum('http_server_request_duration_seconds_count', (l) => l.http_route === route), perEntry.flat().length, route)
    const exactSum = perEntry.flat().reduce((a, b) => a + b, 0) / 1000
    const got = sum('http_server_request_duration_seconds_sum', (l) => l.http_route === route)
    assert.ok(Math.abs(got / exactSum - 1) < 1e-9, `${route} _sum in seconds`)
  }
  // Every request series has a status_class; 5xx requests are the Failure counter's total.
  for (const s of parsed.samples.filter((x) => x.name.startsWith('http_server_request_duration_seconds'))) {
    assert.ok(['2xx', '4xx', '5xx'].includes(s.labels.status_class), JSON.stringify(s.labels))
    assert.is(s.labels.service, 'shop')
    assert.is(s.labels.http_response_status_code, undefined, 'the exact code is opt-in')
  }
  assert.is(sum('routemeter_failure_total'), sum('http_server_request_duration_seconds_count', (l) => l.status_class === '5xx'))
})

test('a value lands in the smallest le at or above its sketch bucket, never below its value', () => {
  const state = new PrometheusState({ bucketsMs: [1, 5, 10] })
  const values = [0, 0.5, 1, 1.01, 4.9, 5, 5.05, 9.99, 10, 12, 1e6]
  const batch: MetricRecord[] = values.map((ms, i) => ({
    kind: 'request', prefix: '', route: 'r', method: 'GET', status: 200, aborted: false, dimensions: {},
    counters: {}, timers: { RequestTime: ms }, timestamp: 1763798400000 + i,
  }))
  state.merge(entryOf('1-0', batch).series())
  const parsed = parse(state.render())
  const at = (le: string): number =>
    parsed.samples.find((s) => s.name === 'http_server_request_duration_seconds_bucket' && s.labels.le === le)!.value
  // A value ≤ le whose sketch bucket straddles le is placed one le up: never too low, at most one sketch bucket off.
  for (const [le, ms] of [['0.001', 1], ['0.005', 5], ['0.01', 10]] as const) {
    const below = values.filter((v) => v <= ms).length
    assert.ok(at(le) <= below, `le=${le}: never counts a value above it (${at(le)} ≤ ${below})`)
    // Within one sketch bucket (×2^(1/32)) of the boundary, nothing more is lost.
    assert.ok(at(le) >= values.filter((v) => v <= ms / 2 ** (1 / 32)).length, `le=${le}: at most one sketch bucket shy`)
  }
  assert.is(at('+Inf'), values.length)
})

test('names, labels and values are escaped; the status code is opt-in; dimensions never shadow our labels', () => {
  assert.is(snakeName('CpuTime'), 'cpu_time')
  assert.is(snakeName('db.query-ms'), 'db_query_ms')
  assert.is(snakeName('HTTPErrors'), 'http_errors')
  assert.is(labelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd')
  const state = new PrometheusState({ statusCode: true })
  const batch: MetricRecord[] = [{
    kind: 'request', prefix: 'shop', route: 'users/"x"\n', method: 'GET', status: 404, aborted: false,
    dimensions: { 'x-team': 'a\\b', http_route: 'forged', le: '1', '9lives': 'cat', '': 'empty-key', empty: '' },
    counters: { 'cart.items': 3, Failure: 0 }, timers: { RequestTime: 12 }, timestamp: 1763798400000,
  }]
  state.merge(entryOf('1-0', batch).series())
  const parsed = parse(state.render())
  checkHistograms(parsed)
  const count = parsed.samples.find((s) => s.name === 'http_server_request_duration_seconds_count')!
  assert.equal(count.labels, {
    http_route: 'users/"x"\n', http_request_method: 'GET', status_class: '4xx', http_response_status_code: '404', prefix: 'shop',
    _: 'empty-key', _9lives: 'cat', x_team: 'a\\b',
  })
  assert.is(parsed.samples.find((s) => s.name === 'routemeter_cart_items_total')!.value, 3)
})

test('routes that differ only in a lone surrogate are one series, as they are one label text on the wire', () => {
  const state = new PrometheusState({})
  const request = (route: string): MetricRecord => ({
    kind: 'request', prefix: '', route, method: 'GET', status: 200, aborted: false, dimensions: { team: 'x\udfff' },
    counters: { Failure: 0 }, timers: { RequestTime: 2 }, timestamp: 1763798400000,
  })
  state.merge(entryOf('1-0', [request('a\ud800'), request('a\udc00'), request('a\ufffd')]).series())
  const text = state.render()
  // Written out, a lone surrogate is U+FFFD: three series with one label text, of which Prometheus kept one.
  const counts = parse(text).samples.filter((s) => s.name === 'http_server_request_duration_seconds_count')
  assert.equal(counts.map((c) => [c.labels.http_route, c.labels.team, c.value]), [['a\ufffd', 'x\ufffd', 3]])
  assert.not.match(text, /[\uD800-\uDFFF]/u)
})

test('past maxSeries new label sets merge into one overflow series per metric, so totals stay exact', () => {
  const state = new PrometheusState({ maxSeries: 5 })
  const batch: MetricRecord[] = Array.from({ length: 20 }, (_, i) => ({
    kind: 'request', prefix: '', route: `r${i}`, method: 'GET', status: 200, aborted: false, dimensions: {},
    counters: {}, timers: { RequestTime: i + 1 }, timestamp: 1763798400000 + i,
  }))
  state.merge(entryOf('1-0', batch).series())
  const parsed = parse(state.render())
  checkHistograms(parsed)
  const counts = parsed.samples.filter((s) => s.name === 'http_server_request_duration_seconds_count')
  assert.is(counts.length, 6)
  assert.equal(counts.at(-1)!.labels, { otel_metric_overflow: 'true' })
  assert.is(counts.at(-1)!.value, 15)
  assert.is(state.overflowed, 15)
})

test('past maxSeries a metric name not seen before adds no family, so hostile names cannot grow the state without bound', () => {
  const state = new PrometheusState({ maxSeries: 5 })
  for (let round = 0; round < 10; round++) {
    const batch: MetricRecord[] = Array.from({ length: 20 }, (_, i) => ({
      kind: 'request', prefix: '', route: 'r', method: 'GET', status: 200, aborted: false, dimensions: {},
      counters: { [`made_up_${round}_${i}`]: 1 }, timers: { RequestTime: 1 }, timestamp: 1763798400000 + i,
    }))
    state.merge(entryOf(`${round + 1}-0`, batch).series())
  }
  const parsed = parse(state.render())
  checkHistograms(parsed)
  // Five made-up names took the five series; the standard RequestTime still has its family (its overflow series).
  assert.is(parsed.types.size, 6, `${parsed.types.size} families for 201 names`)
  const requests = parsed.samples.filter((s) => s.name === 'http_server_request_duration_seconds_count')
  assert.is(requests.reduce((a, s) => a + s.value, 0), 200, 'a standard metric stays exact')
  assert.is(state.overflowed, 195 + 10, '195 names left out, 10 request series into the overflow series')
})

test('the publisher serves /metrics over HTTP, skips redelivered entries, and close() stops the server', async () => {
  const publisher = prometheusPublisher({ port: 0, host: '127.0.0.1' })
  const { port } = await publisher.listening
  const { entries } = latencyLoad(4, 100)
  await publisher.publish(entries)
  await publisher.publish(entries.slice(1, 3)) // an agent retrying a batch another publisher failed
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: 'keep-alive' } })
  assert.is(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  const parsed = parse(await res.text())
  checkHistograms(parsed)
  const total = parsed.samples.filter((s) => s.name === 'http_server_request_duration_seconds_count').reduce((a, s) => a + s.value, 0)
  assert.is(total, 400)
  assert.is(parsed.samples.find((s) => s.name === 'routemeter_prometheus_duplicate_entries_total')!.value, 2)
  assert.is((await fetch(`http://127.0.0.1:${port}/`)).status, 404)
  await publisher.close()
  await fetch(`http://127.0.0.1:${port}/metrics`).then(() => assert.unreachable('closed'), () => {})
})

test('a port in use rejects `listening` and tells onError, without an unhandled rejection', async () => {
  const first = prometheusPublisher({ port: 0, host: '127.0.0.1' })
  const { port } = await first.listening
  const errors: Error[] = []
  const second = prometheusPublisher({ port, host: '127.0.0.1', onError: (e) => errors.push(e) })
  await second.listening.then(() => assert.unreachable('bound twice'), (e: Error) => assert.match(e.message, /EADDRINUSE/))
  assert.is(errors.length, 1)
  await Promise.all([first.close(), second.close()])
})

test('an accept error after listening (EMFILE under many stuck scrapers) goes to onError instead of crashing the agent', async () => {
  // The server is internal: caught as it is made, to emit what net.Server emits when accept() fails.
  const original = http.createServer
  let server: http.Server | undefined
  http.createServer = ((...args: Parameters<typeof original>) => (server = original(...args))) as typeof original
  let publisher: ReturnType<typeof prometheusPublisher>
  const errors: Error[] = []
  try {
    publisher = prometheusPublisher({ port: 0, host: '127.0.0.1', onError: (e) => errors.push(e) })
  } finally { http.createServer = original }
  const { port } = await publisher.listening
  const accept = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' })
  // Twice: EMFILE repeats for as long as descriptors run short, and a once-listener catches only the first.
  assert.not.throws(() => { server!.emit('error', accept); server!.emit('error', accept) })
  assert.is(errors.length, 2)
  assert.match(errors[0].message, /EMFILE/)
  assert.is((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 200, 'still serving')
  await publisher.close()
})

/** `n` routes × 3 status classes of one request each: a big exposition (≈ 3.3 KB per route). */
function manyRoutes(n: number): MetricRecord[] {
  const records: MetricRecord[] = []
  for (let i = 0; i < n; i++) {
    for (const status of [200, 404, 500]) {
      records.push({
        kind: 'request', prefix: '', route: `route${i}`, method: 'GET', status, aborted: false, dimensions: {},
        counters: { Failure: status >= 500 ? 1 : 0, ClientError: status === 404 ? 1 : 0, Aborted: 0 },
        timers: { RequestTime: 12.5 + i, CpuTime: 1.25 }, timestamp: 1763798400000,
      })
    }
  }
  return records
}

test('chunks() cuts the exposition into pieces of about the size asked, at series boundaries, that add up to render()', () => {
  const state = new PrometheusState()
  state.merge(entryOf('1-0', manyRoutes(200)).series())
  const whole = state.render()
  const pieces = [...state.chunks(16 * 1024)]
  assert.ok(pieces.length > 10, `${pieces.length} pieces of ${whole.length} bytes`)
  assert.is(pieces.join(''), whole)
  for (const piece of pieces.slice(0, -1)) {
    // At least the size asked, and at most one series past it (a histogram with its buckets: ≈ 5 KB here).
    assert.ok(piece.length >= 16 * 1024 && piece.length < 16 * 1024 + 8192, String(piece.length))
    // A piece ends where a series ends: its last line is a counter's or a histogram's _count, never a bucket or _sum.
    const last = piece.slice(0, -1).split('\n').pop()!
    assert.ok(!/_bucket\{|_sum[{ ]/.test(last), last)
  }
})

test('/metrics streams a big exposition in pieces (no content-length) that add up to it; HEAD sends headers only', async () => {
  const publisher = prometheusPublisher({ port: 0, host: '127.0.0.1' })
  const { port } = await publisher.listening
  const records = manyRoutes(1000)
  await publisher.publish([entryOf('1-0', records)])
  const reference = new PrometheusState()
  reference.merge(entryOf('1-0', records).series())
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`)
    assert.is(res.status, 200)
    assert.is(res.headers.get('content-length'), null)
    assert.is(res.headers.get('transfer-encoding'), 'chunked')
    const body = await res.text()
    assert.ok(body.length > 1_000_000, String(body.length))
    assert.ok(body.startsWith(reference.render()), 'the series, in order, as render() gives them')
    assert.match(body.slice(reference.render().length), /^# HELP routemeter_prometheus_overflow_total/)
    const head = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'HEAD' })
    assert.is(head.status, 200)
    assert.is(await head.text(), '')
  } finally { await publisher.close() }
})

test('a scraper that hangs up mid-exposition stops its rendering without an error, and the next scrape is whole', async () => {
  const errors: Error[] = []
  const publisher = prometheusPublisher({ port: 0, host: '127.0.0.1', onError: (e) => errors.push(e) })
  const { port } = await publisher.listening
  await publisher.publish([entryOf('1-0', manyRoutes(1000))])
  try {
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        res.once('data', () => { res.destroy(); resolve() })
      }).on('error', reject)
    })
    await new Promise((resolve) => setTimeout(resolve, 200))
    const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    assert.match(body, /routemeter_prometheus_duplicate_entries_total 0\n$/)
    assert.equal(errors, [])
  } finally { await publisher.close() }
})

test('the endpoint serves at most 32 connections at once; the 33rd is closed, and it serves again once they go', async () => {
  const publisher = prometheusPublisher({ port: 0, host: '127.0.0.1' })
  const { port } = await publisher.listening
  const open: net.Socket[] = []
  try {
    for (let i = 0; i < 32; i++) {
      const socket = net.connect(port, '127.0.0.1')
      await new Promise((resolve) => socket.once('connect', resolve))
      open.push(socket)
    }
    const extra = net.connect(port, '127.0.0.1')
    const closed = await new Promise<boolean>((resolve) => {
      extra.once('close', () => resolve(true))
      extra.once('error', () => resolve(true))
      setTimeout(() => resolve(false), 2000).unref()
    })
    assert.ok(closed, 'the 33rd connection was closed by the server')
    for (const socket of open) socket.destroy()
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.is((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 200)
  } finally {
    for (const socket of open) socket.destroy()
    await publisher.close()
  }
})

test('bad options are OptionErrors (TypeErrors) at construction, naming the option', () => {
  const bads: Array<[Record<string, unknown>, string]> = [
    [{ port: -1 }, 'port'], [{ port: 1.5 }, 'port'], [{ host: '' }, 'host'], [{ bucketsMs: [5, 1] }, 'bucketsMs'],
    [{ bucketsMs: [] }, 'bucketsMs'], [{ maxSeries: 0 }, 'maxSeries'], [{ statusCode: 'yes' }, 'statusCode'],
    [{ dedupeIds: -1 }, 'dedupeIds'], [{ onError: 'log' }, 'onError'],
  ]
  for (const [bad, option] of bads) {
    assert.throws(() => prometheusPublisher(bad as never), (e: unknown) =>
      e instanceof TypeError && e instanceof OptionError && e.owner === 'prometheusPublisher' && e.option === option, JSON.stringify(bad))
  }
  const message = 'routemeter: prometheusPublisher option "bucketsMs" must be a non-empty array of ascending positive finite numbers, ' +
    'got [5,1]'
  assert.throws(() => new PrometheusState({ bucketsMs: [5, 1] }), (e: Error) => e.message === message)
})

test('/metrics is served for an absolute-form request target too (GET http://host:port/metrics), with the query ignored', async () => {
  const publisher = prometheusPublisher({ port: 0, host: '127.0.0.1' })
  const { port } = await publisher.listening
  const get = (path: string): Promise<number> => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject)
  })
  try {
    const origin = `http://127.0.0.1:${port}`
    const statuses = await Promise.all([get(`${origin}/metrics`), get(`${origin}/metrics?x=1`), get('/metrics?x=1'), get(`${origin}/`)])
    assert.equal(statuses, [200, 200, 200, 404])
  } finally { await publisher.close() }
})

test.run()
