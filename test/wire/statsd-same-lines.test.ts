/**
 * One StatsD encoding: the same requests sent both ways must give the same lines.
 *
 *   app ─► statsdSink ───────────────────────────────────────────────► UDP socket A
 *   app ─► redisSink ─► redis-server ─► agent ─► statsdPublisher ───────► UDP socket B
 *
 * "The same lines" means: the same names and tags; counters with the same sums per (name, tags); timers with
 * the same number of timings per (name, tags), and the same values. From a v=1 entry (one row per record)
 * the values are identical. From a v=2 entry (a sketch per timer) each value comes back within the sketch's
 * relative error (1.08 %) and min and max exactly, so a StatsD server computing percentiles from the agent's
 * timings gets the app's distribution to within that error.
 */
import http from 'node:http'
import * as assert from 'uvu/assert'
import { createClient } from 'redis'
import { metrics, redisSink, statsdSink, withMetrics, type MetricRecord, type Sink } from '../../src/index.js'
import { startAgent } from '../../src/agent/agent.js'
import { statsdPublisher } from '../../src/agent/statsd-publisher.js'
import { encodeBatch } from '../../src/wire/stream-encoding.js'
import { fetchText, listen, pool } from '../support/http.js'
import { redisSuite } from '../support/redis-server.js'
import { until } from '../support/eventually.js'
import { parseLine, udpCollector } from '../support/udp.js'
import { flushSink } from '../../src/pipeline/registry.js'

const { test, it, redis, cleanup } = redisSuite('statsdSink and statsdPublisher send the same lines', {
  file: 'test/wire/statsd-same-lines.test.ts',
})

const encoding = { tags: true, statusCode: true, prefix: 'edge' } as const

/** Lines by (name, type, tags): counter sums and sorted timer values. */
function collate(lines: readonly string[]): { counters: Map<string, number>, timers: Map<string, number[]> } {
  const counters = new Map<string, number>()
  const timers = new Map<string, number[]>()
  for (const line of lines) {
    const { name, value, type, tags } = parseLine(line)
    const key = `${name}|${tags.join(',')}`
    if (type === 'c') counters.set(key, (counters.get(key) ?? 0) + value)
    else timers.set(key, [...(timers.get(key) ?? []), value])
  }
  for (const values of timers.values()) values.sort((a, b) => a - b)
  return { counters, timers }
}

/** Fails unless both roads gave the same lines; `tolerance` is the relative error allowed on a timing. */
function assertSame(app: readonly string[], agent: readonly string[], tolerance: number): void {
  const a = collate(app)
  const b = collate(agent)
  assert.equal([...b.counters].sort(), [...a.counters].sort(), 'counters: same names, tags and sums')
  assert.equal([...b.timers.keys()].sort(), [...a.timers.keys()].sort(), 'timers: same names and tags')
  for (const [key, values] of a.timers) {
    const other = b.timers.get(key)!
    assert.is(other.length, values.length, `${key}: as many timings`)
    assert.is(other[0], values[0], `${key}: the same min`)
    assert.is(other.at(-1), values.at(-1), `${key}: the same max`)
    for (let i = 0; i < values.length; i++) {
      const allowed = Math.abs(values[i]!) * tolerance + 0.001 // both lines rounded to µs: half of one each
      assert.ok(Math.abs(other[i]! - values[i]!) <= allowed, `${key}: timing ${i} ${other[i]} vs ${values[i]}`)
    }
  }
}

/** How many timings and what counter total some lines hold: what both roads must agree on before comparing them. */
function tally(lines: readonly string[]): { timings: number, counted: number } {
  let timings = 0
  let counted = 0
  for (const line of lines) {
    const { value, type } = parseLine(line)
    if (type === 'c') counted += value
    else timings++
  }
  return { timings, counted }
}

/**
 * Starts an agent on `stream` publishing to a fresh UDP collector; once it published `records` records, waits
 * for the collector to have read as many timings and as large a counter total as `direct` (the sink's lines).
 */
async function agentLines(stream: string, records: number, direct: readonly string[]): Promise<string[]> {
  const udp = await udpCollector()
  cleanup(() => udp.close())
  const publisher = statsdPublisher({ port: udp.port, ...encoding })
  const agent = startAgent({
    redis: redis.url, stream, group: 'g', consumer: 'c', blockMs: 100, publishers: [publisher], onError: () => {},
  })
  try {
    await until(() => agent.stats().records === records, `the agent to publish ${records} records`, 15_000)
  } finally {
    await agent.stop()
    await publisher.close()
  }
  // The datagrams have left; the collector reads them on its next polls.
  const want = tally(direct)
  await until(() => {
    const got = tally(udp.lines)
    return got.timings >= want.timings && got.counted >= want.counted
  }, `${want.timings} timings and a counter total of ${want.counted} from the agent`)
  return udp.lines
}

it('real requests through statsdSink and through Redis, the agent and statsdPublisher: the same lines', async () => {
  const direct = await udpCollector()
  cleanup(() => direct.close())
  const sinkA = statsdSink({ port: direct.port, ...encoding })
  const sinkB = redisSink({ url: redis.url, stream: 'same', onError: () => {} })
  const batches: MetricRecord[][] = []
  // Both sinks get every batch, as it is: the only difference left is the road.
  const tee: Sink = {
    async send(batch) { batches.push(batch); await Promise.all([sinkA.send(batch), sinkB.send(batch)]) },
    async flush() { await sinkA.flush(); await sinkB.flush() },
    async close() { await sinkA.close(); await sinkB.close() },
  }
  let hanging = false
  const server = http.createServer(withMetrics((req, res) => {
    metrics.dimension('tenant', req.url!.includes('7') ? 'acme corp' : 'zürich')
    metrics.timing('db.query', Number(req.url!.split('/')[2] ?? 0) / 3)
    metrics.count('rows', 2)
    if (req.url === '/hang') { hanging = true; return } // the client hangs up: aborted
    res.statusCode = req.url!.startsWith('/nowhere') ? 404 : req.url!.endsWith('/0') ? 503 : req.url!.endsWith('1') ? 201 : 200
    res.end('ok')
  }, { sink: tee, prefix: 'shop', dimensions: { service: 'web' }, flushInterval: 100, onError: () => {} }))
  const { url, close } = await listen(server)
  cleanup(close)
  cleanup(() => tee.close())
  await pool(300, 10, (i) => fetchText(`${url}/${i % 5 === 4 ? 'nowhere' : 'users'}/${i}`))
  // The client hangs up once its request is being handled.
  const hang = http.get(`${url}/hang`, () => {})
  hang.on('error', () => {})
  await until(() => hanging, 'the /hang request to reach the handler')
  hang.destroy()
  await until(async () => { await flushSink(tee); return batches.flat().some((r) => r.aborted) }, 'the aborted request to be recorded')
  await close()
  await tee.close()
  const records = batches.flat()
  // 300 requests and /hang; /users/0 answered 503. A process record may ride along (drops earlier tests in this
  // process counted): it goes both roads too, so it is compared with the rest but not counted here.
  const requests = records.filter((r) => r.kind === 'request').length
  assert.equal([requests, records.filter((r) => r.aborted).length, records.filter((r) => r.status === 503).length], [301, 1, 1])
  await direct.waitFor((lines) => lines.filter((l) => l.includes('.RequestTime:')).length === requests)
  direct.close()

  const viaAgent = await agentLines('same', records.length, direct.lines)
  // The sketch's bound: (2^(1/32) - 1) / (2^(1/32) + 1) = 1.083 % (a value at a bucket's top edge, 32 → 31.653, comes closest).
  assertSame(direct.lines, viaAgent, (2 ** (1 / 32) - 1) / (2 ** (1 / 32) + 1))
  // Spot checks of what "the same" holds: the app's prefix after the sink's, and both status tags.
  const failed = /^edge\.shop\.users\.id\.RequestTime:[\d.]+\|ms\|#method:GET,status_class:5xx,status_code:503,service:web,tenant:/
  assert.is(viaAgent.filter((l) => failed.test(l)).length, 1, viaAgent.slice(0, 5).join('\n'))
  const abortedLines = viaAgent.filter((l) => l.includes('.RequestTime:') && l.includes('status_class:aborted'))
  assert.is(abortedLines.length, 1, 'the aborted request is tagged so')
})

it('from v=1 entries (one row per record) the agent sends identical lines, timings included', async () => {
  const records: MetricRecord[] = Array.from({ length: 500 }, (_, i) => ({
    kind: 'request' as const, prefix: 'shop', route: ['users.id', 'orders'][i % 2]!, method: i % 3 ? 'GET' : 'POST',
    status: [200, 201, 404, 500][i % 4]!, aborted: i % 50 === 0, dimensions: { service: 'web' },
    counters: { Failure: i % 4 === 3 ? 1 : 0, ClientError: i % 4 === 2 ? 1 : 0, Aborted: i % 50 === 0 ? 1 : 0, rows: i % 7 },
    timers: { RequestTime: 0.5 + (i % 37) * 1.37, CpuTime: (i % 11) / 9 }, timestamp: 1763798400000 + i,
  }))
  // Process records (metrics outside any request, per interval): no route, no method, no status tags.
  records.push({
    kind: 'process', prefix: '', route: '', method: '', status: 0, aborted: false, dimensions: { host: 'a' },
    counters: { 'jobs.done': 3 }, timers: { 'gc.pause': 1.25 }, timestamp: 1763798400000,
  })
  const direct = await udpCollector()
  cleanup(() => direct.close())
  const sink = statsdSink({ port: direct.port, ...encoding })
  await sink.send(records)
  await flushSink(sink)
  await sink.close()
  await direct.waitFor((lines) => lines.filter((l) => l.includes('.RequestTime:')).length === 500 && lines.some((l) => l.includes('jobs')))
  direct.close()
  const client = createClient({ url: redis.url })
  await client.connect()
  for (const e of encodeBatch(records, undefined, { version: 1 }).entries) {
    assert.is(e.v, '1')
    await client.xAdd('v1', '*', { v: e.v, n: String(e.n), p: e.p })
  }
  await client.quit()
  const viaAgent = await agentLines('v1', 501, direct.lines)
  assertSame(direct.lines, viaAgent, 0)
  // The process record's lines, exactly.
  assert.equal(viaAgent.filter((l) => l.includes('#host:a')).sort(), ['edge.gc.pause:1.25|ms|#host:a', 'edge.jobs.done:3|c|#host:a'])
})

test.run()
