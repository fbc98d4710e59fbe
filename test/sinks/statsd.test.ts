import http from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { metrics, statsdSink, withMetrics, type MetricRecord } from '../../src/index.js'
import { fetchText, listen, pool } from '../support/http.js'
import { parseLine, udpCollector } from '../support/udp.js'
import { sinkContract } from './contract.js'

sinkContract('statsdSink', async () => {
  const udp = await udpCollector()
  const sink = statsdSink({ port: udp.port })
  return {
    sink,
    delivered: async (route) => udp.lines.filter((l) => l.startsWith(`${route}.RequestTime:`)).length,
    dispose: () => udp.close(),
  }
})

function record(over: Partial<MetricRecord> = {}): MetricRecord {
  return {
    kind: 'request', prefix: '', route: 'users.id', method: 'GET', status: 200, aborted: false,
    dimensions: {}, counters: { Failure: 0, ClientError: 0, Aborted: 0 }, timers: { RequestTime: 1.23456, CpuTime: 0.5 },
    timestamp: Date.now(), ...over,
  }
}

test('real requests arrive on a UDP socket as prefix.route.Metric timings and summed counters', async () => {
  const udp = await udpCollector()
  const sink = statsdSink({ host: '127.0.0.1', port: udp.port, prefix: 'shop' })
  const server = http.createServer(withMetrics((req, res) => {
    res.statusCode = req.url!.includes('bad') ? 500 : 200
    metrics.count('items', 2)
    res.end()
  }, { sink }))
  const { url, close } = await listen(server)
  await pool(30, 10, (i) => fetchText(`${url}/users/${i}${i % 10 === 0 ? '/bad' : ''}`))
  await sink.flush()
  await udp.waitFor((lines) => lines.filter((l) => l.startsWith('shop.users.id.RequestTime:')).length === 27)
  await close()
  await sink.close()
  udp.close()
  const parsed = udp.lines.map(parseLine)
  const sum = (name: string) => parsed.filter((p) => p.name === name && p.type === 'c').reduce((a, p) => a + p.value, 0)
  assert.is(parsed.filter((p) => p.name === 'shop.users.id.RequestTime' && p.type === 'ms').length, 27)
  assert.is(parsed.filter((p) => p.name === 'shop.users.id.bad.CpuTime' && p.type === 'ms').length, 3)
  assert.is(sum('shop.users.id.bad.Failure'), 3)
  assert.is(sum('shop.users.id.Failure'), 0)
  assert.is(sum('shop.users.id.items'), 54)
  // counters are summed per flush: far fewer counter lines than requests × counters
  assert.ok(parsed.filter((p) => p.name === 'shop.users.id.Failure').length < 27)
  assert.ok(udp.packets < udp.lines.length, 'lines are buffered several to a packet')
})

test('DogStatsD tags carry method, status class and dimensions when tags: true', async () => {
  const udp = await udpCollector()
  const sink = statsdSink({ port: udp.port, tags: true })
  sink.send([record({ dimensions: { service: 'shop', 'bad,key': 'a|b#c' }, status: 404 })])
  await sink.flush()
  await udp.waitFor((lines) => lines.length >= 5)
  await sink.close()
  udp.close()
  const timing = udp.lines.map(parseLine).find((p) => p.name === 'users.id.RequestTime')!
  assert.equal(timing.tags.sort(), ['bad_key:a_b_c', 'method:GET', 'service:shop', 'status:4xx'])
  assert.is(timing.value, 1.235)
})

test('no input can inject a metric: names with protocol characters are replaced', async () => {
  const udp = await udpCollector()
  const sink = statsdSink({ port: udp.port })
  sink.send([record({ prefix: 'p', route: 'r', counters: { 'evil:1|c\nother': 1, 'a b@c#d,e=f': 2 }, timers: {} })])
  await sink.flush()
  await udp.waitFor((lines) => lines.length >= 2)
  await sink.close()
  udp.close()
  assert.equal(udp.lines.sort(), ['p.r.a_b_c_d_e_f:2|c', 'p.r.evil_1_c_other:1|c'])
})

test('an unresolvable host never throws into the app: the error goes to onError', async () => {
  const errors: Error[] = []
  const sink = statsdSink({ host: 'no-such-host.invalid', port: 8125, onError: (e) => errors.push(e) })
  const server = http.createServer(withMetrics((_req, res) => res.end('fine'), { sink }))
  const { url, close } = await listen(server)
  const { status, text } = await fetchText(`${url}/a`)
  await sink.flush()
  const until = Date.now() + 5000
  while (errors.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
  await close()
  await sink.close()
  assert.equal([status, text], [200, 'fine'])
  assert.ok(errors.length > 0, 'the DNS failure reached onError')
  assert.match(errors[0]!.message, /no-such-host|ENOTFOUND|EAI_AGAIN/)
})

test('lines are packed into packets no larger than maxBufferSize, none lost or split', async () => {
  const udp = await udpCollector()
  const sink = statsdSink({ port: udp.port, maxBufferSize: 200 })
  sink.send(Array.from({ length: 150 }, (_, i) => record({ route: `r${i}` })))
  await sink.flush()
  await udp.waitFor((lines) => lines.length >= 150 * 2 + 150 * 3)
  await sink.close()
  udp.close()
  assert.ok(Math.max(...udp.sizes) <= 200, `largest packet ${Math.max(...udp.sizes)} bytes`)
  assert.ok(udp.packets < udp.lines.length / 4, `${udp.packets} packets for ${udp.lines.length} lines: packets are filled, not one line each`)
  for (let i = 0; i < 150; i++) assert.ok(udp.lines.includes(`r${i}.RequestTime:1.235|ms`), `r${i} arrived whole`)
})

test('bad statsdSink options throw a TypeError naming the option', () => {
  assert.throws(() => statsdSink({ port: 70000 }), /option "port"/)
  assert.throws(() => statsdSink({ host: '' }), /option "host"/)
  assert.throws(() => statsdSink({ maxBufferSize: 10 }), /option "maxBufferSize"/)
})

test.run()
