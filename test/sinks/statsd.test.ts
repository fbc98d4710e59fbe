import { execFileSync } from 'node:child_process'
import dns from 'node:dns'
import fs from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { metrics, statsdSink, withMetrics, type MetricRecord } from '../../src/index.js'
import { fetchText, listen, pool } from '../support/http.js'
import { parseLine, udpCollector } from '../support/udp.js'
import { sinkContract } from './contract.js'
import { until } from '../support/eventually.js'
import { flushSink } from '../../src/pipeline/registry.js'
import { parseStatsdAddress } from '../../src/sinks/statsd.js'
import { OptionError } from '../../src/util/option-check.js'

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
  await flushSink(sink)
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
  await sink.send([record({ dimensions: { service: 'shop', 'bad,key': 'a|b#c' }, status: 404 })])
  await flushSink(sink)
  await udp.waitFor((lines) => lines.length >= 5)
  await sink.close()
  udp.close()
  const timing = udp.lines.map(parseLine).find((p) => p.name === 'users.id.RequestTime')!
  assert.equal(timing.tags, ['method:GET', 'status_class:4xx', 'service:shop', 'bad_key:a_b_c'])
  assert.is(timing.value, 1.235)
})

test('status_class is on every request series (aborted included), status_code only when asked, never forged by a dimension', async () => {
  const udp = await udpCollector()
  const plain = statsdSink({ port: udp.port, tags: true })
  const exact = statsdSink({ port: udp.port, tags: true, statusCode: true, prefix: 'exact' })
  const batch = [
    record({ route: 'ok', status: 201 }), record({ route: 'gone', status: 503 }), record({ route: 'left', status: 0, aborted: true }),
    record({ route: 'late', status: 200, aborted: true }), record({ route: 'odd', status: 99 }),
    record({ route: 'forged', status: 500, dimensions: { status_class: '2xx', 'status code': '200', method: 'HEAD' } }),
    record({ kind: 'process', route: '', method: '', status: 0, counters: { jobs: 1 }, timers: {} }),
  ]
  await plain.send(batch)
  await exact.send(batch)
  await flushSink(plain)
  await flushSink(exact)
  await udp.waitFor((lines) => lines.filter((l) => l.includes('RequestTime:')).length === 12)
  await plain.close()
  await exact.close()
  udp.close()
  const tagsOf = (name: string) => udp.lines.map(parseLine).find((p) => p.name === name)!.tags.join(',')
  assert.is(tagsOf('ok.RequestTime'), 'method:GET,status_class:2xx')
  assert.is(tagsOf('gone.Failure'), 'method:GET,status_class:5xx')
  assert.is(tagsOf('left.RequestTime'), 'method:GET,status_class:aborted')
  assert.is(tagsOf('late.CpuTime'), 'method:GET,status_class:aborted')
  assert.is(tagsOf('odd.RequestTime'), 'method:GET,status_class:other')
  // `status code` becomes `status_code` once made safe: ours too, so left out like `status_class` and `method`.
  assert.is(tagsOf('forged.RequestTime'), 'method:GET,status_class:5xx')
  assert.is(tagsOf('jobs'), '')
  assert.is(tagsOf('exact.ok.RequestTime'), 'method:GET,status_class:2xx,status_code:201')
  assert.is(tagsOf('exact.left.Aborted'), 'method:GET,status_class:aborted,status_code:0')
  assert.is(tagsOf('exact.forged.RequestTime'), 'method:GET,status_class:5xx,status_code:500')
})

test('no input can inject a metric: names with protocol characters are replaced', async () => {
  const udp = await udpCollector()
  const sink = statsdSink({ port: udp.port })
  await sink.send([record({ prefix: 'p', route: 'r', counters: { 'evil:1|c\nother': 1, 'a b@c#d,e=f': 2 }, timers: {} })])
  await flushSink(sink)
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
  await flushSink(sink)
  await until(() => errors.length > 0, 'the DNS failure to reach onError')
  await close()
  await sink.close()
  assert.equal([status, text], [200, 'fine'])
  // ENOTFOUND where a resolver answers, EAI_AGAIN where none is reachable; one lookup, one report.
  assert.is(errors.length, 1, errors.map((e) => e.message).join('\n'))
  assert.match(errors[0]!.message, /^getaddrinfo (ENOTFOUND|EAI_AGAIN) no-such-host\.invalid$/)
})

test('a send error is counted, line by line, and an onError hook that throws on it does not crash the process', async () => {
  const udp = await udpCollector()
  // 1,000 lines in 15 packets (20 kB): few enough that loopback's receive buffer holds them all, where the
  // 2,000 records of 149 packets lost some.
  const batch = (): MetricRecord[] => Array.from({ length: 200 }, (_, i) => record({ route: `r${i}` }))
  // The same batch to a socket that takes it: how many packets it makes, each a send that fails below.
  const working = statsdSink({ port: udp.port })
  try {
    await working.send(batch())
    await flushSink(working)
    await udp.waitFor((lines) => lines.length === 200 * 5)
  } finally {
    await working.close()
    udp.close()
  }
  let calls = 0
  // A datagram to the broadcast address without SO_BROADCAST fails in dgram's send callback (EACCES), which
  // reaches the hook through the sink's send callback.
  const sink = statsdSink({ host: '255.255.255.255', port: udp.port, onError: () => { calls++; throw new Error('hook bug') } })
  const uncaught: unknown[] = []
  const onUncaught = (error: unknown): void => { uncaught.push(error) }
  process.on('uncaughtException', onUncaught)
  const before = metrics.stats().dropped.sink ?? 0
  try {
    await sink.send(batch())
    await flushSink(sink)
    await until(() => calls === udp.packets, `the hook called once per failed packet (${udp.packets})`)
    await sink.close()
  } finally {
    process.off('uncaughtException', onUncaught)
  }
  assert.is(calls, udp.packets)
  assert.equal(uncaught.map(String), [])
  // Buffered in hot-shots, the lines of a failed datagram were reported and never counted.
  assert.is((metrics.stats().dropped.sink ?? 0) - before, 200 * 5, 'every line of every failed packet counted as a sink drop')
})

test('lines are packed into packets no larger than maxBufferSize, none lost or split', async () => {
  const udp = await udpCollector()
  const sink = statsdSink({ port: udp.port, maxBufferSize: 200 })
  await sink.send(Array.from({ length: 150 }, (_, i) => record({ route: `r${i}` })))
  await flushSink(sink)
  await udp.waitFor((lines) => lines.length >= 150 * 2 + 150 * 3)
  await sink.close()
  udp.close()
  assert.ok(Math.max(...udp.sizes) <= 200, `largest packet ${Math.max(...udp.sizes)} bytes`)
  assert.ok(udp.packets < udp.lines.length / 4,
    `${udp.packets} packets for ${udp.lines.length} lines: packets are filled, not one line each`)
  for (let i = 0; i < 150; i++) assert.ok(udp.lines.includes(`r${i}.RequestTime:1.235|ms`), `r${i} arrived whole`)
})

test('app names never land on a standard metric, from the app or from a hand-built record', async () => {
  const udp = await udpCollector()
  const sink = statsdSink({ port: udp.port })
  const server = http.createServer(withMetrics((_req, res) => {
    metrics.count('.Failure', 1)
    metrics.timing('RequestTime.', 5)
    metrics.count('done')
    res.end()
  }, { sink }))
  const { url, close } = await listen(server)
  await fetchText(`${url}/app`)
  await close()
  // Records that never met the door (another producer, a custom pipeline) are checked by the encoder too.
  const before = metrics.stats().dropped.name ?? 0
  await sink.send([record({
    route: 'built', counters: { Failure: 0, '..Failure': 1, 'Aborted.': 1 }, timers: { RequestTime: 2, '.CpuTime.': 9, Failure: 3 },
  })])
  await flushSink(sink)
  await udp.waitFor((lines) => lines.some((l) => l.startsWith('app.done:')) && lines.some((l) => l.startsWith('built.RequestTime:')))
  await sink.close()
  udp.close()
  const parsed = udp.lines.map(parseLine)
  const of = (name: string) => parsed.filter((p) => p.name === name).map((p) => `${p.value}|${p.type}`)
  assert.equal(of('app.Failure'), ['0|c'])
  assert.equal(of('app.RequestTime').length, 1)
  assert.equal(of('built.Failure'), ['0|c'])
  assert.equal(of('built.Aborted'), [])
  assert.equal(of('built.RequestTime'), ['2|ms'])
  assert.equal(of('built.CpuTime'), [])
  assert.is((metrics.stats().dropped.name ?? 0) - before, 4)
})

test('no line carries a value that is not a finite number', async () => {
  const udp = await udpCollector()
  const sink = statsdSink({ port: udp.port })
  const before = metrics.stats().dropped.value ?? 0
  await sink.send([
    record({ route: 'v', counters: { big: 1e308 }, timers: { RequestTime: 1, huge: 1e306, nan: NaN } }),
    record({ route: 'v', counters: { big: 1e308 }, timers: { RequestTime: 1 } }),
  ])
  await flushSink(sink)
  await udp.waitFor((lines) => lines.filter((l) => l.startsWith('v.RequestTime:')).length === 2)
  await sink.close()
  udp.close()
  for (const line of udp.lines) assert.ok(Number.isFinite(parseLine(line).value), line)
  assert.not.ok(udp.lines.some((l) => l.startsWith('v.big:') || l.startsWith('v.huge:')), udp.lines.join('\n'))
  assert.is((metrics.stats().dropped.value ?? 0) - before, 4)
})

test('names equal to Object.prototype keys travel from the app to StatsD lines', async () => {
  const udp = await udpCollector()
  const sink = statsdSink({ port: udp.port, tags: true })
  const server = http.createServer(withMetrics((_req, res) => {
    metrics.count('__proto__', 2)
    metrics.timing('__proto__', 3)
    metrics.count('constructor')
    metrics.dimension('__proto__', 'p')
    res.end()
  }, { sink }))
  const { url, close } = await listen(server)
  await fetchText(`${url}/proto`)
  await close()
  await flushSink(sink)
  await udp.waitFor((lines) =>
    lines.some((l) => l.startsWith('proto.RequestTime:')) && lines.some((l) => l.startsWith('proto.constructor:')))
  await sink.close()
  udp.close()
  const parsed = udp.lines.map(parseLine)
  const counter = parsed.find((p) => p.name === 'proto.__proto__' && p.type === 'c')
  const timer = parsed.find((p) => p.name === 'proto.__proto__' && p.type === 'ms')
  assert.is(counter?.value, 2, udp.lines.join('\n'))
  assert.is(timer?.value, 3, udp.lines.join('\n'))
  assert.equal(counter!.tags, ['method:GET', 'status_class:2xx', '__proto__:p'])
})

test('a line with more tags than a packet holds loses its last tags, counted; no datagram exceeds maxBufferSize', async () => {
  const udp = await udpCollector()
  const sink = statsdSink({ port: udp.port, tags: true, maxBufferSize: 1400 })
  const dimensions: Record<string, string> = {}
  for (let i = 0; i < 32; i++) dimensions[`dimension${i}`] = String(i).padEnd(250, 'x')
  const before = metrics.stats().dropped.size ?? 0
  await sink.send([record({ route: 'wide', dimensions }), record({ route: 'narrow' })])
  await flushSink(sink)
  await udp.waitFor((lines) => lines.some((l) => l.startsWith('wide.RequestTime:')) && lines.some((l) => l.startsWith('narrow.Aborted:')))
  await sink.close()
  udp.close()
  assert.ok(Math.max(...udp.sizes) <= 1400, `largest datagram ${Math.max(...udp.sizes)} bytes`)
  const wide = udp.lines.map(parseLine).find((p) => p.name === 'wide.RequestTime')!
  assert.is(wide.value, 1.235)
  // Our two tags and five dimension tags of about 262 bytes fit with the name in 1,400 bytes; a sixth would not.
  // The sink keeps the record's order of dimensions.
  const kept = [0, 1, 2, 3, 4].map((i) => `dimension${i}:${dimensions[`dimension${i}`]}`)
  assert.equal(wide.tags, ['method:GET', 'status_class:2xx', ...kept])
  // 5 lines of the wide record (2 timers, 3 counters) were cut; the narrow record's lines were not.
  assert.is((metrics.stats().dropped.size ?? 0) - before, 5)
})

test('a line whose name alone does not fit a packet is dropped, counted, and the rest still go', async () => {
  const udp = await udpCollector()
  const sink = statsdSink({ port: udp.port, maxBufferSize: 64 })
  const before = metrics.stats().dropped.size ?? 0
  await sink.send([record({ route: 'r', counters: {}, timers: { RequestTime: 1, ['m'.repeat(100)]: 2 } })])
  await flushSink(sink)
  await udp.waitFor((lines) => lines.some((l) => l.startsWith('r.RequestTime:')))
  await sink.close()
  udp.close()
  assert.ok(Math.max(...udp.sizes) <= 64, `largest datagram ${Math.max(...udp.sizes)} bytes`)
  assert.is((metrics.stats().dropped.size ?? 0) - before, 1)
})

test('bad statsdSink options throw a TypeError naming the option', () => {
  assert.throws(() => statsdSink({ port: 70000 }), /option "port"/)
  assert.throws(() => statsdSink({ host: '' }), /option "host"/)
  assert.throws(() => statsdSink({ maxBufferSize: 10 }), /option "maxBufferSize"/)
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ port: '80a' }, 'port'], [{ tags: 'yes' }, 'tags'], [{ prefix: 5 }, 'prefix'], [{ onError: 'log' }, 'onError'],
    [{ bufferFlushInterval: 0 }, 'bufferFlushInterval'], [{ bufferFlushInterval: 2 ** 31 }, 'bufferFlushInterval'],
  ]
  for (const [options, option] of cases) {
    assert.throws(() => statsdSink(options as never),
      (e: unknown) => e instanceof OptionError && e.owner === 'statsdSink' && e.option === option, JSON.stringify(options))
  }
  assert.throws(() => statsdSink({ port: 0 }),
    (e: Error) => e.message === 'routemeter: statsdSink option "port" must be an integer from 1 to 65535, got 0')
  assert.throws(() => parseStatsdAddress('host:99999'), (e: unknown) => e instanceof OptionError && e.option === 'ROUTEMETER_STATSD' &&
    e.message === 'routemeter: statsdSink option "ROUTEMETER_STATSD" must be host[:port], got "host:99999"')
})

// ── A DNS server that never answers (issue 8, item 4) ────────────────────────────────────────────────────

/**
 * Makes `dns.lookup(host)` behave as getaddrinfo does against a DNS server that never answers: each call
 * holds one thread of libuv's pool (an `fs.open` of a FIFO nobody writes blocks in the pool just as
 * getaddrinfo does) until `release()`, then answers 127.0.0.1. Every other name goes to the real lookup, on
 * the same pool, so the app's own lookups starve exactly when the real resolver would starve them.
 */
function neverAnswering(host: string) {
  const dir = fs.mkdtempSync(join(tmpdir(), 'rm-dns-'))
  const fifo = join(dir, 'resolver')
  execFileSync('mkfifo', [fifo])
  const original = dns.lookup
  const counts = { started: 0, inFlight: 0, maxInFlight: 0 }
  let writer: number | undefined
  ;(dns as { lookup: unknown }).lookup = function lookup(hostname: string, options: unknown, callback?: unknown) {
    if (hostname !== host) return (original as (...args: unknown[]) => void).call(dns, hostname, options, callback)
    const answer = (typeof options === 'function' ? options : callback) as (error: Error | null, address?: string, family?: number) => void
    counts.started++
    counts.maxInFlight = Math.max(counts.maxInFlight, ++counts.inFlight)
    fs.open(fifo, 'r', (error, fd) => {
      counts.inFlight--
      if (error === null) fs.close(fd, () => {})
      answer(error, '127.0.0.1', 4)
    })
  }
  // O_RDWR on a FIFO never blocks, and while it is open every reader's open() returns.
  const release = () => void (writer ??= fs.openSync(fifo, 'r+'))
  return {
    counts,
    release,
    async restore() {
      dns.lookup = original
      release()
      await until(() => counts.inFlight === 0, 'the held lookups to return')
      fs.closeSync(writer!)
      fs.rmSync(dir, { recursive: true })
    },
  }
}

/** How many of `n` lookups of localhost (from /etc/hosts, on libuv's pool) answer within `ms`. */
async function appLookupsAnswered(n: number, ms: number): Promise<number> {
  let answered = 0
  const one = () => new Promise<void>((resolve) => dns.lookup('localhost', () => (answered++, resolve())))
  const all = Promise.all(Array.from({ length: n }, one))
  let timer: NodeJS.Timeout | undefined
  await Promise.race([all, new Promise((r) => (timer = setTimeout(r, ms)))])
  clearTimeout(timer)
  return answered
}

test('a silent DNS server holds one lookup at a time: the app\'s own lookups go on, drops are counted, then metrics flow', async () => {
  const resolver = neverAnswering('statsd.test')
  const udp = await udpCollector()
  const errors: Error[] = []
  try {
    const before = metrics.stats().dropped.dns ?? 0
    const sink = statsdSink({ host: 'statsd.test', port: udp.port, dnsTimeout: 50, onError: (e) => errors.push(e) })
    let pushed = 0
    for (let i = 0; i < 20; i++, pushed += 200) await sink.send(Array.from({ length: 200 }, () => record({ route: 'early' })))
    // Generous: they answer in milliseconds unless the pool is full, and then they never do.
    assert.is(await appLookupsAnswered(20, 5000), 20, 'the app\'s own lookups all answered')
    assert.equal([resolver.counts.started, resolver.counts.maxInFlight], [1, 1], 'one lookup, never two at once')
    assert.is((metrics.stats().dropped.dns ?? 0) - before, pushed, 'every record sent while unresolved is counted as a dns drop')
    assert.ok(errors.some((e) => /statsd\.test/.test(e.message) && /timed out/.test(e.message)), 'the timeout reached onError')

    resolver.release()
    // The sink takes the answer in the lookup's own callback turn (promise callbacks): once the lookup has
    // returned, the address is known and the next send goes out.
    await until(() => resolver.counts.inFlight === 0, 'the held lookup to return')
    await sink.send(Array.from({ length: 100 }, () => record({ route: 'late' })))
    await flushSink(sink)
    await udp.waitFor((lines) => lines.filter((l) => l.startsWith('late.RequestTime:')).length === 100)
    await sink.close()
    assert.is(resolver.counts.started, 1, 'the answer is cached')
    assert.is(udp.lines.filter((l) => l.startsWith('early.')).length, 0, 'records pushed − delivered = dropped')
  } finally {
    await resolver.restore()
    udp.close()
  }
})

test('a host name is resolved by the system resolver (here /etc/hosts) and every packet reaches it', async () => {
  const udp = await udpCollector()
  let lookups = 0
  const original = dns.lookup
  ;(dns as { lookup: unknown }).lookup = function lookup(...args: unknown[]) {
    if (args[0] === 'localhost') lookups++
    return (original as (...a: unknown[]) => void).apply(dns, args)
  }
  try {
    const sink = statsdSink({ host: 'localhost', port: udp.port })
    for (let i = 0; i < 5; i++) await sink.send(Array.from({ length: 100 }, () => record({ route: `named${i}` })))
    await flushSink(sink)
    await udp.waitFor((lines) => lines.filter((l) => /^named\d\.RequestTime:/.test(l)).length === 500)
    await sink.close()
    assert.is(lookups, 1)
  } finally {
    dns.lookup = original
    udp.close()
  }
})

test('a maxBufferSize no UDP packet can carry is a TypeError naming the option', () => {
  assert.throws(() => statsdSink({ maxBufferSize: 65_508 }),
    (e: Error) => e instanceof TypeError && /option "maxBufferSize"/.test(e.message))
  assert.throws(() => statsdSink({ maxBufferSize: 63 }), /option "maxBufferSize"/)
})

test('bad DNS options throw a TypeError naming the option', () => {
  assert.throws(() => statsdSink({ host: 'statsd.internal', dnsTimeout: 0 }), /option "dnsTimeout"/)
  assert.throws(() => statsdSink({ host: 'statsd.internal', dnsTtl: -1 }), /option "dnsTtl"/)
})

test.run()
