/**
 * A backlog of real requests in a real Redis stream, drained by the agent into a real StatsD daemon (the npm
 * `statsd` package): every timing and every counted failure must arrive, exactly. The daemon is read
 * through its flushes (test/support/statsd-daemon.ts), so a datagram the kernel dropped from its receive
 * buffer shows as a missing timing (and, on Linux, in the socket's drop count).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as assert from 'uvu/assert'
import { Pool } from 'undici'
import { metrics, withMetrics } from '../../src/index.js'
import { redisSink } from '../../src/sinks/redis.js'
import { startAgent } from '../../src/agent/agent.js'
import { statsdPublisher } from '../../src/agent/statsd-publisher.js'
import { redisSuite } from '../support/redis-server.js'
import { freeUdpPort, startStatsd, type StatsdDaemon } from '../support/statsd-daemon.js'
import { until } from '../support/eventually.js'
import { flushSink } from '../../src/pipeline/registry.js'

const { test, it, redis } = redisSuite('agent → real StatsD daemon', { file: 'test/agent/statsd-daemon.test.ts' })

/** A daemon key (`name;tag=value;…`, or a bare name) of metric `metric`. */
const isMetric = (key: string, metric: string): boolean => key.split(';')[0]!.endsWith(`.${metric}`)
const counted = (daemon: StatsdDaemon, match: (key: string) => boolean): number => {
  let n = 0
  for (const [key, value] of daemon.counters) if (match(key)) n += value
  return n
}
const timings = (daemon: StatsdDaemon, match: (key: string) => boolean): number => {
  let n = 0
  for (const [key, values] of daemon.timers) if (match(key)) n += values.length
  return n
}

/**
 * Serves `n` real requests through withMetrics (prefix `shop`, flushes every 50 ms, so many entries) into a
 * Redis stream: every 10th answers 500, every 10th + 1 answers 400; each records a `db.query` timing and a
 * `rows` count. Returns the number of each status.
 */
async function backlog(stream: string, n: number): Promise<Record<number, number>> {
  const sink = redisSink({ url: redis.url, stream, onError: () => {} })
  const app = withMetrics((req, res) => {
    const id = Number(req.url!.split('/')[2])
    res.statusCode = id % 10 === 0 ? 500 : id % 10 === 1 ? 400 : 200
    metrics.timing('db.query', (id % 97) / 7)
    metrics.count('rows', id % 5)
    res.end('ok')
  }, { sink, prefix: 'shop', flushInterval: 50, onError: () => {} })
  const server: Server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 16 })
  const statuses: Record<number, number> = {}
  for (let i = 0; i < n; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, n - i) }, async (_, k) => {
      const res = await pool.request({ path: `/${['users', 'orders', 'carts'][(i + k) % 3]}/${i + k}`, method: 'GET' })
      await res.body.dump()
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
    }))
  }
  await flushSink(sink)
  await pool.close()
  await new Promise((resolve) => server.close(resolve))
  await sink.close()
  return statuses
}

/**
 * The publisher's pace here: a quarter of the default. The daemon is a Node process sharing two cores with this
 * suite (under coverage) and its redis-server; at the default 40 lines/ms its 208 KB receive buffer holds ≈ 50 ms
 * of lines, and in full CI runs it fell that far behind in 3 of 5 runs (61 and 109 of 3,000 timings missing).
 * A quarter of the pace gives it ≈ 200 ms; the replay (≈ 9,000 timing lines) then takes ≈ 1 s.
 */
const PACE = { linesPerMs: 10, burstLines: 250 }

/** Every count the backlog of `n` requests must produce in the daemon, exactly. */
async function assertExact(daemon: StatsdDaemon, n: number): Promise<void> {
  const requestTimes = (): number => timings(daemon, (key) => isMetric(key, 'RequestTime'))
  await daemon.until(`${n} RequestTime, CpuTime and db.query timings`, () => requestTimes() >= n &&
    timings(daemon, (key) => isMetric(key, 'CpuTime')) >= n && timings(daemon, (key) => isMetric(key, 'db.query')) >= n &&
    counted(daemon, (key) => isMetric(key, 'Failure')) >= n / 10)
    .catch((error: Error) => {
      const drops = daemon.kernelDrops()
      const kernel = drops === undefined ? '' : `; the kernel dropped ${drops} datagrams on the daemon's socket`
      throw new Error(`${requestTimes()} of ${n} RequestTime timings arrived${kernel}\n${error.message.slice(0, 3000)}`)
    })
  // Flushes keep coming: anything sent twice or late would show now.
  const flushes = daemon.flushes
  await daemon.until('two more flushes', () => daemon.flushes >= flushes + 2)
  assert.is(requestTimes(), n)
  const named = /^shop\.(users|orders|carts)\.id\.RequestTime;method=GET;status_class=[245]xx$/
  assert.is(timings(daemon, (key) => named.test(key)), n, 'named with the app\'s prefix, tagged with the status class')
  assert.is(timings(daemon, (key) => isMetric(key, 'CpuTime')), n)
  assert.is(timings(daemon, (key) => isMetric(key, 'db.query')), n)
  assert.is(timings(daemon, (key) => isMetric(key, 'RequestTime') && key.includes('status_class=5xx')), n / 10)
  assert.is(timings(daemon, (key) => isMetric(key, 'RequestTime') && key.includes('status_class=4xx')), n / 10)
  assert.is(counted(daemon, (key) => isMetric(key, 'Failure')), n / 10)
  assert.is(counted(daemon, (key) => isMetric(key, 'Failure') && key.includes('status_class=5xx')), n / 10)
  assert.is(counted(daemon, (key) => isMetric(key, 'ClientError')), n / 10)
  let rows = 0
  for (let i = 0; i < n; i++) rows += i % 5
  assert.is(counted(daemon, (key) => isMetric(key, 'rows')), rows)
  const dbQuery = [...daemon.timers].filter(([key]) => isMetric(key, 'db.query')).flatMap(([, values]) => values)
  assert.is(Math.max(...dbQuery), Math.round((96 / 7) * 1000) / 1000, 'the largest timing is exact (min and max are, even from a sketch)')
  assert.is(counted(daemon, (key) => key === 'statsd.bad_lines_seen'), 0)
}

it('3,000 requests replayed from a Redis backlog arrive in statsd exactly: every timing, every failure, no kernel drop', async () => {
  const daemon = await startStatsd()
  const N = 3000
  const statuses = await backlog('backlog', N)
  assert.equal(statuses, { 200: N * 0.8, 400: N / 10, 500: N / 10 })
  const publisher = statsdPublisher({ port: daemon.port, tags: true, ...PACE })
  const agent = startAgent({
    redis: redis.url, stream: 'backlog', group: 'g', consumer: 'c', blockMs: 200, publishers: [publisher], onError: () => {},
  })
  try {
    await until(() => agent.stats().requests === N, `the agent to publish the backlog of ${N} requests`, 30_000)
    await assertExact(daemon, N)
    const drops = daemon.kernelDrops()
    if (drops !== undefined) assert.is(drops, 0, 'the daemon\'s socket dropped no datagram')
  } finally {
    await agent.stop()
    await publisher.close()
    await daemon.stop()
  }
})

it('a daemon that is down: publish rejects as transient, the agent retries, and once it is up every count is exact', async () => {
  const port = await freeUdpPort()
  const N = 3000
  await backlog('down', N)
  const errors: Error[] = []
  const publisher = statsdPublisher({ port, tags: true, ...PACE })
  const agent = startAgent({
    redis: redis.url, stream: 'down', group: 'g', consumer: 'c', blockMs: 200, retryMinMs: 50, retryMaxMs: 200,
    publishers: [publisher], onError: (e) => errors.push(e),
  })
  let daemon: StatsdDaemon | undefined
  try {
    await until(() => agent.stats().retries >= 2, 'a refused publish to be retried twice', 10_000)
    assert.is(agent.stats().requests, 0, 'nothing was acked while nobody listened')
    // Transient: the agent says so once and keeps retrying (a permanent refusal would dead-letter the entries).
    const refused = `StatsD 127.0.0.1:${port} refused the datagrams (nothing listening): will retry`
    assert.equal(errors.map((e) => e.message), [`routemeter agent: statsd failed (${refused}); retrying with backoff`])
    assert.is(agent.stats().deadLettered, 0)
    daemon = await startStatsd({ port })
    await until(() => agent.stats().requests === N, `the agent to publish the backlog of ${N} requests`, 30_000)
    await assertExact(daemon, N)
  } finally {
    await agent.stop()
    await publisher.close()
    await daemon?.stop()
  }
})

test.run()
