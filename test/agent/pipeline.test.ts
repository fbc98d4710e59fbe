/**
 * The whole channel with real servers: redisSink → redis-server → startAgent → influxd, counting exactly.
 */
import * as assert from 'uvu/assert'
import { createClient } from 'redis'
import type { MetricRecord } from '../../src/wire/record.js'
import { redisSink, type RedisSink } from '../../src/sinks/redis.js'
import { startAgent, type Agent } from '../../src/agent/agent.js'
import { influxPublisher } from '../../src/agent/influx-publisher.js'
import { influxSuite } from '../support/influxd.js'
import { sleep, until } from '../support/eventually.js'
import { flushSink } from '../../src/pipeline/registry.js'
import { MAX_IN_FLIGHT } from '../../src/sinks/redis-delivery.js'

const { test, it, influx, redis, newDb, cleanup } = influxSuite('redis channel end to end', {
  file: 'test/agent/pipeline.test.ts', redis: { password: 's3cret' },
})

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
  const db = await newDb('e2e')
  const stream = `stream-${db}`
  const errors: Error[] = []
  const sink = redisSink({ url: redis.url, stream, encoding: extra.encoding, onError: (e) => errors.push(e) })
  cleanup(() => sink.close())
  const agents: Agent[] = []
  for (let i = 0; i < (extra.agents ?? 1); i++) {
    const agent = startAgent({
      redis: redis.url, stream, group: 'agents', consumer: `a${i}`, blockMs: 200, readCount: 20, retryMinMs: 50, retryMaxMs: 500,
      publishers: [influxPublisher({ url: influx.url, db })], onError: (e) => errors.push(e),
    })
    agents.push(agent)
    cleanup(() => agent.stop())
  }
  await Promise.all(agents.map((a) => a.ready))
  return { db, stream, sink, agents, errors }
}

const requestsIn = (db: string): Promise<number> => influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"')
const published = (agents: Agent[]): number => agents.reduce((n, a) => n + a.stats().requests, 0)

/**
 * Sends 5,000 records through a fresh sink, Redis and one agent, and checks InfluxDB's counts against what was
 * sent: requests per route and failures, exactly. Returns the database.
 */
async function throughTheChannel(encoding?: 1 | 2): Promise<string> {
  const { db, sink, agents } = await setup({ encoding })
  const N = 5000
  const sent: MetricRecord[] = []
  for (let i = 0; i < N / 100; i++) {
    const batch = records(100)
    sent.push(...batch)
    void sink.send(batch) // never rejects: a batch Redis does not take waits in the sink's backlog
  }
  await flushSink(sink)
  await until(() => published(agents) === N, `the agent to publish ${N} requests`, 15_000)
  assert.is(await requestsIn(db), N)
  const perRoute: Record<string, number> = {}
  for (const r of sent) perRoute[r.route] = (perRoute[r.route] ?? 0) + 1
  const res = await influx.query(db, 'SELECT sum("count") FROM "RequestTime" GROUP BY "route"')
  assert.equal(Object.fromEntries((res.results[0].series ?? []).map((s) => [s.tags!.route, s.values[0][1]])), perRoute)
  assert.is(await influx.scalar(db, 'SELECT sum("sum") FROM "Failure"'), sent.filter((r) => r.counters.Failure === 1).length)
  return db
}

it('N records through redisSink, Redis and the agent arrive in InfluxDB exactly', async () => {
  await throughTheChannel()
})

it('with encoding: 2 (summaries) the counts are exact too, and every route has its quantiles', async () => {
  const db = await throughTheChannel(2)
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime" WHERE "status_class" = \'5xx\''), 500)
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
  // The load arrives over time (a pause every 1,000 records), not in one tick: both agents find entries to read.
  for (let i = 0; i < N / 20; i++) { void sink.send(records(20)); if (i % 50 === 0) await sleep(5) }
  await flushSink(sink)
  await until(() => published(agents) === N, `the agents to publish ${N} requests`, 15_000)
  const entries = agents.map((a) => a.stats().entries)
  assert.ok(entries.every((n) => n > 0), `both agents published entries: ${entries.join('/')}`)
  assert.is(entries[0] + entries[1], sink.stats().entries, 'every entry Redis acknowledged was published once')
  assert.is(await requestsIn(db), N)
})

it('Redis stopped for seconds mid-load and restarted: nothing lost, counts exact', async () => {
  const { db, stream, sink, agents, errors } = await setup()
  let sent = 0
  // Steady load for `ms`: 25 records every 10 ms, as an app would send them, through the whole outage.
  const load = async (ms: number): Promise<void> => {
    const end = Date.now() + ms
    while (Date.now() < end) { void sink.send(records(25)); sent += 25; await sleep(10) }
  }
  await load(500)
  await redis.stop()
  const sentBefore = sent
  await load(3000)
  const during = sink.stats()
  assert.is(during.backlog, sent - during.delivered, 'what Redis has not acknowledged waits in the backlog')
  assert.ok(during.backlog >= sent - sentBefore, `the ${sent - sentBefore} records of the outage wait: ${during.backlog}`)
  await redis.start()
  await load(500)
  await flushSink(sink)
  // App → Redis is at-least-once (README, "The app side"): an XADD in flight when Redis stopped can be applied (and
  // written to the AOF) with its reply lost, and the sink sends it again. So the stream, not `sent`, is what the agent
  // must publish exactly; that nothing was lost is checked on the stream's content below.
  const client = createClient({ url: redis.url })
  await client.connect()
  cleanup(() => client.close())
  const entries = async (): Promise<Array<{ n: number, p: string }>> =>
    ((await client.xRange(stream, '-', '+')) ?? []).map((e) => ({ n: Number(e.message.n), p: String(e.message.p) }))
  let inStream = 0
  // A deadline for a slow machine, not a pace: the agent catches up within 1–2 s of the flush even on 2 loaded cores.
  await until(async () => {
    inStream = (await entries()).reduce((sum, e) => sum + e.n, 0)
    return sink.stats().delivered === sent && published(agents) === inStream
  }, 'the agent to publish every request in the stream', 30_000, 100).catch((error: Error) => {
    const s = sink.stats()
    throw new Error(`${error.message}: sent ${sent}, acknowledged by Redis ${s.delivered} (backlog ${s.backlog}), ` +
      `in the stream ${inStream}, published ${published(agents)}`)
  })
  const stored = await entries()
  // Each batch's records have unique timestamps, so two entries with the same payload are one batch sent twice.
  const batches = new Map(stored.map((e) => [e.p, e.n]))
  assert.is([...batches.values()].reduce((sum, n) => sum + n, 0), sent, 'every record is in the stream: nothing lost')
  assert.is(batches.size, sink.stats().entries, 'one entry per XADD Redis acknowledged; any other is a copy of one')
  assert.ok(stored.length - batches.size <= MAX_IN_FLIGHT, `copies: only XADDs in flight at the stop (${stored.length - batches.size})`)
  assert.is(sink.stats().droppedBacklog, 0)
  assert.is(await requestsIn(db), inStream)
  // One warning for the one outage, with the password masked (the agent's own retries are its business).
  assert.is(sink.stats().outages, 1)
  const warned = errors.map((e) => e.message).filter((m) => m.startsWith('redisSink:'))
  assert.is(warned.length, 1, warned.join('\n'))
  const port = new URL(redis.url).port
  const expected = `redisSink: Redis at redis://:***@127.0.0.1:${port} is unreachable (`
  assert.ok(warned[0].startsWith(expected) && warned[0].endsWith('); keeping up to 100000 records and retrying'), warned[0])
})

it('InfluxDB down then up: the agent retries, then the counts are exact', async () => {
  const { db, sink, agents } = await setup()
  await influx.stop()
  try {
    for (let i = 0; i < 20; i++) void sink.send(records(50))
    await flushSink(sink)
    await until(() => agents[0].stats().retries >= 2, 'two retries while InfluxDB is down', 10_000)
    assert.is(agents[0].stats().entries, 0)
  } finally { await influx.start() }
  await until(() => published(agents) === 1000, 'published after InfluxDB came back', 20_000)
  assert.is(await requestsIn(db), 1000)
})

test.run()
