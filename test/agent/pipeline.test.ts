/**
 * The whole channel with real servers: redisSink → redis-server → startAgent → influxd, counting exactly.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { redisSink, type RedisSink } from '../../src/sinks/redis.js'
import { startAgent, type Agent } from '../../src/agent/agent.js'
import { influxPublisher } from '../../src/agent/influx-publisher.js'
import { startRedis, type RedisServer } from '../support/redis-server.js'
import { startInfluxd, type Influxd } from '../support/influxd.js'
import { INFLUXD, REDIS, servicesAvailable, sleep, waitFor } from '../support/services.js'
import { flushSink } from '../../src/pipeline/registry.js'

const test = suite('redis channel end to end')
const available = servicesAvailable('test/agent/pipeline.test.ts (redis channel end to end)', [REDIS, INFLUXD])
const it = available ? test : test.skip

let redis: RedisServer
let influx: Influxd
let no = 0
const cleanup: Array<() => Promise<void>> = []

test.before(async () => {
  if (!available) return
  ;[redis, influx] = await Promise.all([startRedis({ password: 's3cret' }), startInfluxd()])
})
test.after.each(async () => { for (const f of cleanup.splice(0).reverse()) await f() })
test.after(async () => { await redis?.stop({ keepData: false }); await influx?.destroy() })

let ts = 0
/** `n` request records; every 10th failed. Unique timestamps so duplicates would show anywhere. */
function records(n: number): MetricRecord[] {
  return Array.from({ length: n }, () => {
    const i = ts++
    return {
      kind: 'request' as const, prefix: '', route: ['users.id', 'health', 'orders'][i % 3], method: i % 2 ? 'GET' : 'POST',
      status: i % 10 === 0 ? 500 : 200, aborted: false, dimensions: { service: 'shop' },
      counters: { Failure: i % 10 === 0 ? 1 : 0, ClientError: 0, Aborted: 0 }, timers: { RequestTime: 1 + (i % 7) },
      timestamp: 1763798400000 + i,
    }
  })
}

async function setup(
  extra: { agents?: number, encoding?: 1 | 2 } = {},
): Promise<{ db: string, stream: string, sink: RedisSink, agents: Agent[], errors: Error[] }> {
  const db = `e2e${++no}`
  const stream = `stream${no}`
  await influx.createDatabase(db)
  const errors: Error[] = []
  const sink = redisSink({ url: redis.url, stream, encoding: extra.encoding, onError: (e) => errors.push(e) })
  cleanup.push(() => sink.close())
  const agents: Agent[] = []
  for (let i = 0; i < (extra.agents ?? 1); i++) {
    const agent = startAgent({
      redis: redis.url, stream, group: 'agents', consumer: `a${i}`, blockMs: 200, readCount: 20, retryMinMs: 50, retryMaxMs: 500,
      publishers: [influxPublisher({ url: influx.url, db })], onError: (e) => errors.push(e),
    })
    agents.push(agent)
    cleanup.push(() => agent.stop())
  }
  await Promise.all(agents.map((a) => a.ready))
  return { db, stream, sink, agents, errors }
}

const requestsIn = (db: string): Promise<number> => influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"')
const published = (agents: Agent[]): number => agents.reduce((n, a) => n + a.stats().requests, 0)

it('N records through redisSink, Redis and the agent arrive in InfluxDB exactly', async () => {
  const { db, sink, agents } = await setup()
  const N = 5000
  for (let i = 0; i < N / 100; i++) sink.send(records(100))
  await flushSink(sink)
  await waitFor('agent', () => published(agents) === N, 15_000)
  assert.is(await requestsIn(db), N)
  assert.is(await influx.scalar(db, 'SELECT sum("sum") FROM "Failure"'), N / 10)
  assert.is(await influx.scalar(db, 'SELECT count("count") FROM "RequestTime" WHERE "route" = \'health\''), await influx.scalar(db, 'SELECT count("count") FROM "RequestTime" WHERE "route" = \'orders\''))
})

it('with encoding: 2 (summaries) the counts are exact too, and every route has its quantiles', async () => {
  const { db, sink, agents } = await setup({ encoding: 2 })
  const N = 5000
  for (let i = 0; i < N / 100; i++) sink.send(records(100))
  await flushSink(sink)
  await waitFor('agent', () => published(agents) === N, 15_000)
  assert.is(await requestsIn(db), N)
  assert.is(await influx.scalar(db, 'SELECT sum("sum") FROM "Failure"'), N / 10)
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime" WHERE "status_class" = \'5xx\''), N / 10)
  // RequestTime is 1 + (i % 7) ms: every value is an integer 1…7, so min and max exact, p99 within 1.08 % of 7.
  const res = await influx.query(db, 'SELECT min("min"), max("max"), max("p99") FROM "RequestTime" GROUP BY "route"')
  for (const series of res.results[0].series ?? []) {
    const [, min, max, p99] = series.values[0] as number[]
    assert.is(min, 1)
    assert.is(max, 7)
    assert.ok(Math.abs(p99 / 7 - 1) <= 0.0109, String(p99))
  }
  assert.is(res.results[0].series?.length, 3)
})

it('two agents in one group: every entry lands once, counts exact', async () => {
  const { db, sink, agents } = await setup({ agents: 2 })
  const N = 6000
  for (let i = 0; i < N / 20; i++) { sink.send(records(20)); if (i % 50 === 0) await sleep(5) }
  await flushSink(sink)
  await waitFor('agents', () => published(agents) === N, 15_000)
  assert.ok(agents.every((a) => a.stats().entries > 0), agents.map((a) => a.stats().entries).join('/'))
  assert.is(await requestsIn(db), N)
})

it('Redis stopped for seconds mid-load and restarted: nothing lost, counts exact', async () => {
  const { db, sink, agents, errors } = await setup()
  let sent = 0
  const load = async (ms: number): Promise<void> => {
    const end = Date.now() + ms
    while (Date.now() < end) { sink.send(records(25)); sent += 25; await sleep(10) }
  }
  await load(500)
  await redis.stop()
  await load(3000)
  assert.ok(sink.stats().backlog > 0, 'records waited in the backlog')
  await redis.start()
  await load(500)
  await flushSink(sink)
  await waitFor('everything published', () => published(agents) === sent, 20_000)
  assert.is(sink.stats().droppedBacklog, 0)
  assert.is(await requestsIn(db), sent)
  assert.ok(errors.some((e) => e.message.includes('unreachable')), 'the sink warned about the outage')
})

it('InfluxDB down then up: the agent retries, then the counts are exact', async () => {
  const { db, sink, agents } = await setup()
  await influx.stop()
  try {
    for (let i = 0; i < 20; i++) sink.send(records(50))
    await flushSink(sink)
    await waitFor('retries', () => agents[0].stats().retries >= 2, 10_000)
    assert.is(agents[0].stats().entries, 0)
  } finally { await influx.start() }
  await waitFor('published after InfluxDB came back', () => published(agents) === 1000, 20_000)
  assert.is(await requestsIn(db), 1000)
})

test.run()
