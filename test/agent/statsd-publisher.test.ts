import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/collect/record.js'
import { statsdPublisher } from '../../src/agent/statsd-publisher.js'
import { agentEntry } from '../../src/agent/aggregate.js'
import { dropTotals } from '../../src/util/drops.js'
import { decodeEntry, encodeBatch } from '../../src/pipeline/stream-encoding.js'
import { freePort } from '../support/services.js'
import { parseLine, udpCollector } from '../support/udp.js'

function entry(id: string, batch: MetricRecord[]) {
  const [e] = encodeBatch(batch).entries
  return agentEntry(id, decodeEntry(e.v, e.p))
}

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
  await udp.waitFor((lines) => lines.length >= 6)
  udp.close()
  const lines = udp.lines.map(parseLine)
  const timings = lines.filter((l) => l.type === 'ms' && l.name === 'web.users.id.RequestTime').map((l) => l.value).sort()
  assert.equal(timings, [2, 5])
  assert.equal(lines.filter((l) => l.type === 'c' && l.name === 'web.users.id.Failure').map((l) => l.value), [1])
  assert.ok(lines.some((l) => l.name === 'web.a_b_c_d_e.Failure' && l.value === 1), udp.lines.join('\n'))
  assert.ok(lines.some((l) => l.name === 'web.jobs_done' && l.type === 'c' && l.value === 3), udp.lines.join('\n'))
})

test('tags: true sends method and dimensions as DogStatsD tags', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port, tags: true })
  await pub.publish([entry('1-0', [record()])])
  await pub.close()
  await udp.waitFor((lines) => lines.length >= 2)
  udp.close()
  const timing = udp.lines.map(parseLine).find((l) => l.type === 'ms')
  assert.equal(timing?.tags.sort(), ['method:GET', 'service:shop'])
})

test('an unreachable StatsD never rejects publish and warns through onError at most once per burst', async () => {
  const errors: Error[] = []
  const pub = statsdPublisher({ host: 'no-such-host.invalid', port: await freePort(), onError: (e) => errors.push(e) })
  for (let i = 0; i < 5; i++) await pub.publish([entry(`1-${i}`, [record()])])
  await new Promise((r) => setTimeout(r, 500))
  await pub.close()
  assert.ok(errors.length <= 1, errors.map((e) => e.message).join('\n'))
})

test('names that normalise to a standard metric, or carry its name with the wrong kind, are dropped and counted', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port })
  const before = dropTotals().name ?? 0
  await pub.publish([entry('1-0', [
    record({ counters: { Failure: 0, '.Failure': 1, 'Aborted..': 1 }, timers: { RequestTime: 2, 'RequestTime.': 5, Failure: 7 } }),
  ])])
  await pub.close()
  await udp.waitFor((lines) => lines.some((l) => l.startsWith('users.id.RequestTime:')) && lines.some((l) => l.startsWith('users.id.Failure:')))
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
  await udp.waitFor((lines) => lines.some((l) => l.startsWith('users.id.RequestTime:')) && lines.some((l) => l.startsWith('narrow.Failure:')))
  udp.close()
  assert.ok(Math.max(...udp.sizes) <= 1400, `largest datagram ${Math.max(...udp.sizes)} bytes`)
  const timing = udp.lines.map(parseLine).find((l) => l.name === 'users.id.RequestTime')!
  assert.is(timing.value, 2)
  assert.ok(timing.tags.includes('method:GET'), timing.tags.join(','))
  assert.ok(timing.tags.length > 1 && timing.tags.length < 33, `${timing.tags.length} tags`)
  // The wide group's two lines (RequestTime, Failure) were cut; narrow's were not.
  assert.is((dropTotals().size ?? 0) - before, 2)
})

test('bad options throw a TypeError naming the option', () => {
  for (const [options, name] of [[{ port: 0 }, 'port'], [{ host: '' }, 'host'], [{ protocol: 'uds' }, 'protocol']] as const) {
    assert.throws(() => statsdPublisher(options as never), (e: Error) => e instanceof TypeError && e.message.includes(`\`${name}\``))
  }
})

test.run()
