import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { influxPublisher } from '../../src/agent/influx-publisher.js'
import { entryTimestampNs, seriesToLines } from '../../src/wire/influx-line.js'
import { agentEntry } from '../../src/agent/aggregate.js'
import type { AgentEntry } from '../../src/agent/publisher.js'
import { decodeEntry } from '../../src/wire/stream-encoding.js'
import { dropTotals } from '../../src/util/drops.js'
import { entryOf as entry } from '../support/entries.js'
import { influxSuite } from '../support/influxd.js'

// Records here are built by hand, as another producer (or an older routemeter) could write them to the
// stream: the app-side door refuses these names, so the agent must survive them on its own.
const { test, it, influx, newDb } = influxSuite('influx: hostile names and values', { file: 'test/agent/influx-hostile.test.ts' })

function record(over: Partial<MetricRecord> = {}): MetricRecord {
  return {
    kind: 'request', prefix: '', route: 'users.id', method: 'GET', status: 200, aborted: false,
    dimensions: { service: 'shop' }, counters: { Failure: 0, ClientError: 0, Aborted: 0 }, timers: { RequestTime: 2 },
    timestamp: 1763798400000, ...over,
  }
}

const dropped = (reason: string): number => dropTotals()[reason] ?? 0

function linesOf(e: AgentEntry): string {
  const ns = entryTimestampNs(e.id)
  assert.type(ns, 'string')
  return seriesToLines(e.series(), ns as string)
}

it('dimension keys that escape alike and blank metric names cost no request its RequestTime point; collisions are counted', async () => {
  const db = await newDb()
  const pub = influxPublisher({ url: influx.url, db })
  const before = dropped('name')
  await pub.publish([entry('1763798400000-0', [
    record({
      dimensions: { service: 'shop', 'k\n': 'a', 'k\r': 'b', 's\uD800': 'x', 's\uD801': 'y' },
      counters: { Failure: 0, ClientError: 0, Aborted: 0, ' ': 1, '\0': 1, '\t': 1 },
    }),
    record({ timers: { RequestTime: 4 } }),
  ])])
  await pub.close()
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"'), 2)
  assert.is(await influx.scalar(db, 'SELECT sum("sum") FROM "RequestTime"'), 6)
  assert.is(await influx.scalar(db, 'SELECT sum("sum") FROM "Failure"'), 0)
  // One tag key lost per colliding pair (k\n/k\r, two lone surrogates), and the three blank names merged into one point.
  assert.is(dropped('name') - before, 4)
})

it('a metric whose name normalises to a standard one, or has its name but the wrong kind, never lands on it', async () => {
  const db = await newDb()
  const pub = influxPublisher({ url: influx.url, db })
  const before = dropped('name')
  const e = entry('1763798400000-1', [
    record({
      counters: { Failure: 1, ClientError: 0, Aborted: 0, '.Failure': 1, '\0Failure': 1, '\tFailure': 1 },
      timers: { RequestTime: 2, Failure: 9 },
    }),
    record(),
  ])
  const lines = linesOf(e)
  assert.not.ok(/^Failure\.counter/m.test(lines), lines)
  await pub.publish([e])
  await pub.close()
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "Failure"'), 2)
  assert.is(await influx.scalar(db, 'SELECT sum("sum") FROM "Failure"'), 1)
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"'), 2)
  // '.Failure' (a standard name after normalisation), the timer 'Failure', and '\0Failure' merged with
  // '\tFailure' (both are written as ' Failure', which influxd no longer reads as 'Failure').
  assert.is(dropped('name') - before, 3)
})

it('values that would overflow a sum are left out and counted: the entry is still written', async () => {
  const db = await newDb()
  const pub = influxPublisher({ url: influx.url, db })
  const before = dropped('value')
  // Written by hand: routemeter's own encoder no longer puts such values in an entry.
  const strings = ['', 'users.id', 'GET', 'RequestTime', 'big']
  const row = [0, 200, 0, 0, 1, 4, 1e308, 1, 3, 2]
  const payload = JSON.stringify({ t: 1763798400000, s: strings, d: [[]], g: [0, 0, 1, 2, 0], r: [...row, ...row] })
  const e = agentEntry('1763798400000-2', decodeEntry('1', payload))
  const lines = linesOf(e)
  assert.not.match(lines, /Infinity|NaN/)
  await pub.publish([e])
  await pub.close()
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"'), 2)
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "big"'), 0)
  assert.is(dropped('value') - before, 2)
})

test.run()
