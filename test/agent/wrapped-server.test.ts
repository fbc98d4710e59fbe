/**
 * Real HTTP requests through `withMetrics(listener, { sink: redisSink() })`, a private redis-server, the
 * agent and a private influxd: InfluxDB must count exactly the requests served, also when Redis goes
 * away for seconds in the middle (and no response may fail meanwhile).
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'
import { withMetrics, metrics } from '../../src/index.js'
import { redisSink, type RedisSink } from '../../src/sinks/redis.js'
import { startAgent, type Agent } from '../../src/agent/agent.js'
import { influxPublisher } from '../../src/agent/influx-publisher.js'
import { startRedis, type RedisServer } from '../support/redis-server.js'
import { startInfluxd, type Influxd } from '../support/influxd.js'
import { INFLUXD, REDIS, servicesAvailable, waitFor } from '../support/services.js'

const test = suite('wrapped server → Redis → agent → InfluxDB')
const available = servicesAvailable('test/agent/wrapped-server.test.ts (wrapped server end to end)', [REDIS, INFLUXD])
const it = available ? test : test.skip

let redis: RedisServer
let influx: Influxd
let no = 0
const cleanup: Array<() => Promise<void>> = []
test.before(async () => { if (available) [redis, influx] = await Promise.all([startRedis(), startInfluxd()]) })
test.after.each(async () => { for (const f of cleanup.splice(0).reverse()) await f() })
test.after(async () => { await redis?.stop({ keepData: false }); await influx?.destroy() })

async function setup(): Promise<{ db: string, sink: RedisSink, agent: Agent, pool: Pool }> {
  const db = `web${++no}`
  const stream = `web${no}`
  await influx.createDatabase(db)
  const sink = redisSink({ url: redis.url, stream, onError: () => {} })
  const app = withMetrics((req, res) => {
    if (req.url === '/fail') { res.statusCode = 500; res.end('no'); return }
    res.end('ok')
  }, { sink, flushInterval: 50, dimensions: { service: 'web' }, onError: () => {} })
  const server: Server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 8 })
  const agent = startAgent({
    redis: redis.url, stream, group: 'g', consumer: 'c', blockMs: 200,
    publishers: [influxPublisher({ url: influx.url, db })], onError: () => {},
  })
  cleanup.push(async () => { await pool.close(); await new Promise((r) => server.close(r)) }, () => sink.close(), () => agent.stop())
  await agent.ready
  return { db, sink, agent, pool }
}

async function hit(pool: Pool, n: number, path = (i: number) => `/users/${i}`): Promise<number[]> {
  const statuses: number[] = []
  const one = async (i: number): Promise<void> => {
    const res = await pool.request({ path: path(i), method: 'GET' })
    await res.body.dump()
    statuses.push(res.statusCode)
  }
  for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => one(i + k)))
  return statuses
}

it('N real requests through withMetrics land in InfluxDB exactly, failures included', async () => {
  const { db, agent, pool } = await setup()
  await hit(pool, 1500)
  await hit(pool, 100, () => '/fail')
  await metrics.flush()
  await waitFor('agent', () => agent.stats().requests === 1600, 15_000)
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"'), 1600)
  assert.is(await influx.scalar(db, 'SELECT sum("sum") FROM "Failure"'), 100)
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime" WHERE "route" = \'users.id\' AND "service" = \'web\''), 1500)
})

it('Redis away for seconds while serving: every response succeeds and InfluxDB still counts each request', async () => {
  const { db, sink, agent, pool } = await setup()
  const statuses = await hit(pool, 500)
  await redis.stop()
  const started = Date.now()
  while (Date.now() - started < 3000) statuses.push(...await hit(pool, 100))
  await redis.start()
  statuses.push(...await hit(pool, 500))
  await metrics.flush()
  assert.ok(statuses.every((s) => s === 200), 'no failed response')
  const served = statuses.length
  await waitFor('agent', () => agent.stats().requests === served, 20_000)
  assert.is(sink.stats().droppedBacklog, 0)
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"'), served)
})

test.run()
