import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/collect/record.js'
import { statsdPublisher } from '../../src/agent/statsd-publisher.js'
import { agentEntry } from '../../src/agent/aggregate.js'
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

test('bad options throw a TypeError naming the option', () => {
  for (const [options, name] of [[{ port: 0 }, 'port'], [{ host: '' }, 'host'], [{ protocol: 'uds' }, 'protocol']] as const) {
    assert.throws(() => statsdPublisher(options as never), (e: Error) => e instanceof TypeError && e.message.includes(`\`${name}\``))
  }
})

test.run()
