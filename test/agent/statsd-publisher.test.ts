import dgram from 'node:dgram'
import { once } from 'node:events'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { statsdPublisher } from '../../src/agent/statsd-publisher.js'
import { PublishError } from '../../src/agent/publisher.js'
import { OptionError } from '../../src/util/option-check.js'
import { dropTotals } from '../../src/util/drops.js'
import { bucketIndex } from '../../src/wire/sketch.js'
import { entryOf as entry } from '../support/entries.js'
import { freePort, sleep, waitFor } from '../support/services.js'
import { parseLine, udpCollector } from '../support/udp.js'
import { freeUdpPort } from '../support/statsd-daemon.js'

function record(over: Partial<MetricRecord> = {}): MetricRecord {
  return {
    kind: 'request', prefix: '', route: 'users.id', method: 'GET', status: 200, aborted: false,
    dimensions: { service: 'shop' }, counters: { Failure: 0 }, timers: { RequestTime: 2 }, timestamp: 1763798400000, ...over,
  }
}

test('timers go value by value, counters summed per entry, names dotted and cleaned', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port, prefix: 'web' })
  await pub.publish([entry('1-0', [
    record({ timers: { RequestTime: 2 } }), record({ timers: { RequestTime: 5 }, counters: { Failure: 1 } }),
    record({ route: 'a:b|c@d#e', counters: { Failure: 1 } }),
    record({ kind: 'process', route: '', method: '', counters: { 'jobs done': 3 }, timers: {} }),
  ])])
  await pub.close()
  await udp.waitFor((lines) => lines.length === 6)
  udp.close()
  // Each timer value a line of its own; the counters of a series summed (two Failure of users.id, 0 + 1).
  assert.equal([...udp.lines].sort(), [
    'web.a_b_c_d_e.Failure:1|c', 'web.a_b_c_d_e.RequestTime:2|ms', 'web.jobs_done:3|c',
    'web.users.id.Failure:1|c', 'web.users.id.RequestTime:2|ms', 'web.users.id.RequestTime:5|ms',
  ])
})

test('tags: true sends method, status_class and dimensions as DogStatsD tags; statusCode: true adds status_code', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port, tags: true })
  const exact = statsdPublisher({ port: udp.port, tags: true, statusCode: true, prefix: 'exact' })
  const batch = [
    record(), record({ route: 'gone', status: 503 }),
    record({ route: 'left', status: 0, aborted: true, dimensions: { status_class: '2xx' } }),
  ]
  await pub.publish([entry('1-0', batch)])
  await exact.publish([entry('1-0', batch)])
  await pub.close()
  await exact.close()
  await udp.waitFor((lines) => lines.filter((l) => l.includes('.RequestTime:')).length === 6)
  udp.close()
  const tagsOf = (name: string) => udp.lines.map(parseLine).find((l) => l.name === name)!.tags.join(',')
  assert.is(tagsOf('users.id.RequestTime'), 'method:GET,status_class:2xx,service:shop')
  assert.is(tagsOf('gone.Failure'), 'method:GET,status_class:5xx,service:shop')
  assert.is(tagsOf('left.RequestTime'), 'method:GET,status_class:aborted', 'a dimension cannot set status_class')
  assert.is(tagsOf('exact.gone.RequestTime'), 'method:GET,status_class:5xx,status_code:503,service:shop')
  assert.is(tagsOf('exact.left.Failure'), 'method:GET,status_class:aborted,status_code:0')
})

test('the app\'s prefix comes after the publisher\'s, as statsdSink puts it after its own', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port, prefix: 'web' })
  const process = record({ kind: 'process', prefix: 'shop', route: '', method: '', counters: { jobs: 2 }, timers: {} })
  await pub.publish([entry('1-0', [record({ prefix: 'shop' }), process])])
  await pub.close()
  await udp.waitFor((lines) => lines.length >= 3)
  udp.close()
  assert.equal(udp.lines.sort(), ['web.shop.jobs:2|c', 'web.shop.users.id.Failure:0|c', 'web.shop.users.id.RequestTime:2|ms'])
})

test('an unresolvable host rejects publish as transient (the agent retries, data waits in Redis) and warns once per burst', async () => {
  const errors: Error[] = []
  const port = await freePort()
  const pub = statsdPublisher({ host: 'no-such-host.invalid', port, onError: (e) => errors.push(e) })
  for (let i = 0; i < 3; i++) {
    const error = await pub.publish([entry(`1-${i}`, [record()])]).then(() => undefined, (e: unknown) => e)
    assert.ok(error instanceof PublishError && !error.permanent, String(error))
  }
  await pub.close()
  // ENOTFOUND where a resolver answers, EAI_AGAIN where none is reachable.
  assert.is(errors.length, 1, errors.map((e) => e.message).join('\n'))
  const refused = `^routemeter statsd no-such-host\\.invalid:${port}: getaddrinfo (ENOTFOUND|EAI_AGAIN) no-such-host\\.invalid$`
  assert.match(errors[0]!.message, new RegExp(refused))
})

test('nothing listening on the port: publish rejects as transient; once a server listens, each line arrives once', async () => {
  const port = await freeUdpPort()
  const pub = statsdPublisher({ port })
  const error = await pub.publish([entry('1-0', [record()])]).then(() => undefined, (e: unknown) => e)
  assert.ok(error instanceof PublishError && !error.permanent, String(error))
  const server = dgram.createSocket('udp4')
  const lines: string[] = []
  server.on('message', (msg) => { if (msg.length > 0) lines.push(...msg.toString().split('\n')) })
  server.bind(port, '127.0.0.1')
  await once(server, 'listening')
  await pub.publish([entry('1-0', [record()])])
  await pub.close()
  // A marker sent after close(): on loopback, datagrams reach a socket in the order they were sent, so once the
  // marker is in, so is every line the publisher sent; a duplicate would be in too.
  const marker = dgram.createSocket('udp4')
  marker.send('end', port, '127.0.0.1')
  await waitFor('the marker', () => lines.includes('end'), 3000)
  marker.close()
  server.close()
  assert.equal(lines.sort(), ['end', 'users.id.Failure:0|c', 'users.id.RequestTime:2|ms'])
})

test('datagrams are paced: a burst, then at most linesPerMs lines per millisecond, none lost', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port, linesPerMs: 10, burstLines: 100 })
  const batch = Array.from({ length: 1000 }, (_, i) => record({ timers: { RequestTime: i }, counters: {} }))
  const arrivals: number[] = []
  const started = performance.now()
  const timer = setInterval(() => arrivals.push(udp.lines.length), 1)
  await pub.publish([entry('1-0', batch)])
  const elapsed = performance.now() - started
  clearInterval(timer)
  await udp.waitFor((lines) => lines.length === 1000)
  await pub.close()
  udp.close()
  // 900 lines past the burst at 10 per ms cannot take less than 90 ms, whatever the machine.
  assert.ok(elapsed >= 90 - 1, `${elapsed} ms`)
  const values = udp.lines.map(parseLine).map((l) => l.value)
  // Each value sent once (from a v=2 entry, within the sketch's 1.08 %; min and max exact).
  assert.is(values.length, 1000)
  assert.equal([Math.min(...values), Math.max(...values)], [0, 999])
})

test('close() during a paced publish stops the pacing timer: no send on the closed socket, and the publish rejects', async () => {
  const udp = await udpCollector()
  // Slow enough that close() finds most of the packets still queued (an agent stopping at its drain deadline).
  // ≈ 30 lines a datagram: one every 600 ms, so 300 lines take ≈ 6 s, past close()'s own 2 s wait.
  const pub = statsdPublisher({ port: udp.port, linesPerMs: 0.05, burstLines: 1 })
  const crashes: unknown[] = []
  const onCrash = (error: unknown): void => { crashes.push(error) }
  process.on('uncaughtException', onCrash)
  try {
    const batch = Array.from({ length: 300 }, (_, i) => record({ timers: { RequestTime: i }, counters: {} }))
    const publishing = pub.publish([entry('1-0', batch)])
    const outcome = publishing.then(() => 'resolved', (e: unknown) =>
      (e instanceof PublishError && !e.permanent ? 'transient' : String(e)))
    // The first datagram is out: the pacing timer holds the rest.
    await udp.waitFor((lines) => lines.length > 0)
    await pub.close()
    // The time is the subject: the next datagram was due within 600 ms of the socket closing, and a send on the
    // closed socket would have thrown by now.
    await sleep(1000)
    assert.equal(crashes.map(String), [])
    assert.is(await Promise.race([outcome, new Promise((r) => setTimeout(() => r('pending'), 500))]), 'transient')
  } finally {
    process.off('uncaughtException', onCrash)
    udp.close()
  }
})

test('an entry claiming more timer values than one entry may send is refused permanently, before any line leaves', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port, linesPerMs: 1e9, burstLines: 1e9 })
  // A v=2 entry states its counts: a few bytes can claim millions of values (here 2,000,001 of 2 ms).
  const hostile = entry('1-0', [record({ timers: { RequestTime: 2 } })])
  const timer = hostile.series().find((s) => s.type === 'timer')!
  timer.sketch!.positive.add(bucketIndex(2), 2_000_000)
  timer.sketch!.count += 2_000_000
  timer.count += 2_000_000
  const started = performance.now()
  const outcome = await pub.publish([entry('2-0', [record()]), hostile]).then(() => 'resolved', (e: unknown) => e)
  const elapsed = performance.now() - started
  await pub.close()
  udp.close()
  assert.ok(outcome instanceof PublishError && outcome.permanent, String(outcome))
  assert.match((outcome as Error).message, /2000001 timer values in entry 1-0/)
  assert.is(udp.lines.length, 0, 'nothing sent: the good entry goes again alone')
  assert.ok(elapsed < 1000, `${elapsed} ms`)
})

test('names that normalise to a standard metric, or carry its name with the wrong kind, are dropped and counted', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port })
  const before = dropTotals().name ?? 0
  await pub.publish([entry('1-0', [
    record({ counters: { Failure: 0, '.Failure': 1, 'Aborted..': 1 }, timers: { RequestTime: 2, 'RequestTime.': 5, Failure: 7 } }),
  ])])
  await pub.close()
  await udp.waitFor((lines) =>
    lines.some((l) => l.startsWith('users.id.RequestTime:')) && lines.some((l) => l.startsWith('users.id.Failure:')))
  udp.close()
  // What Graphite would file under users/id/Failure (empty levels collapse) must be the real counter alone.
  const lines = udp.lines.map(parseLine).map((l) => ({ ...l, name: l.name.replace(/\.{2,}/g, '.').replace(/\.$/, '') }))
  assert.equal(lines.filter((l) => l.name === 'users.id.Failure').map((l) => `${l.value}|${l.type}`), ['0|c'])
  assert.equal(lines.filter((l) => l.name === 'users.id.RequestTime').map((l) => `${l.value}|${l.type}`), ['2|ms'])
  assert.equal(lines.filter((l) => l.name === 'users.id.Aborted'), [])
  assert.is((dropTotals().name ?? 0) - before, 4)
})

test('a line with more tags than a datagram holds loses its last tags, counted; no datagram exceeds 1400 bytes', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port, tags: true })
  const dimensions: Record<string, string> = {}
  for (let i = 0; i < 32; i++) dimensions[`dimension${i}`] = String(i).padEnd(250, 'x')
  const before = dropTotals().size ?? 0
  await pub.publish([entry('1-0', [record({ dimensions }), record({ route: 'narrow', dimensions: {} })])])
  await pub.close()
  await udp.waitFor((lines) =>
    lines.some((l) => l.startsWith('users.id.RequestTime:')) && lines.some((l) => l.startsWith('narrow.Failure:')))
  udp.close()
  assert.ok(Math.max(...udp.sizes) <= 1400, `largest datagram ${Math.max(...udp.sizes)} bytes`)
  const timing = udp.lines.map(parseLine).find((l) => l.name === 'users.id.RequestTime')!
  assert.is(timing.value, 2)
  // Our two tags and five dimension tags of about 262 bytes fit with the name (1,367 bytes); a sixth would not.
  // Dimensions come out of an entry sorted by key: dimension0, dimension1, dimension10, …
  const kept = Object.keys(dimensions).sort().slice(0, 5).map((k) => `${k}:${dimensions[k]}`)
  assert.equal(timing.tags, ['method:GET', 'status_class:2xx', ...kept])
  // The wide group's two lines (RequestTime, Failure) were cut; narrow's were not.
  assert.is((dropTotals().size ?? 0) - before, 2)
})

test('bad options throw an OptionError (a TypeError) naming the option', () => {
  const cases = [
    [{ port: 0 }, 'port'], [{ host: '' }, 'host'], [{ protocol: 'uds' }, 'protocol'], [{ linesPerMs: 0 }, 'linesPerMs'],
    [{ burstLines: 0.5 }, 'burstLines'], [{ tags: 1 }, 'tags'], [{ statusCode: 'yes' }, 'statusCode'], [{ onError: true }, 'onError'],
  ] as const
  for (const [options, name] of cases) {
    assert.throws(() => statsdPublisher(options as never),
      (e: unknown) => e instanceof TypeError && e instanceof OptionError && e.owner === 'statsdPublisher' && e.option === name, name)
  }
  assert.throws(() => statsdPublisher({ protocol: 'uds' as never }),
    (e: Error) => e.message === 'routemeter: statsdPublisher option "protocol" must be one of "udp", "tcp", got "uds"')
})

test.run()
