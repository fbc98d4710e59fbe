#!/usr/bin/env node
/**
 * Agent drain rate and the app-side cost of redisSink, on the compiled code (`npm run build` first).
 *
 *   node bench/agent-drain.mjs [--requests 1000000] [--per-entry 2000] [--influx-requests 300000] [--encoding 2]
 *
 * `ROUTEMETER_DIST=/path/to/dist` benches another build (e.g. `npx tsc -p tsconfig.build.json --outDir /tmp/x/dist`,
 * with /tmp/x/package.json and /tmp/x/node_modules beside it). `--encoding 1|2` picks the stream schema the
 * entries (and the app-side redisSink) are written in; default 2.
 *
 * 1. drain → discard: a private redis-server (no persistence) is filled with entries of realistic request
 *    records, then one agent drains them into a publisher that aggregates each entry (`series()`) and
 *    drops it. Reported: requests/s wall, and requests per CPU-second of the agent process (the agent is
 *    one thread: that is "one core"). Redis runs in its own process and is not counted.
 * 2. drain → InfluxDB: the same into a private influxd (skipped when `influxd` is missing).
 * 3. app side: CPU µs per record of `sink.send()` + `flush()` for redisSink vs memorySink, batches of 500
 *    (the Batcher's default flush size), everything on the app thread (encoding, XADD, reply parsing).
 *
 * The bench checks before it times: every run asserts the agent published exactly the requests sent.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { createClient } from 'redis'
import { writeInfluxdConfig } from './lib/influxd.mjs'
import { startRedis } from './lib/receivers.mjs'

const DIST = process.env.ROUTEMETER_DIST
  ? pathToFileURL(join(process.env.ROUTEMETER_DIST, '/')).href
  : new URL('../dist/', import.meta.url).href
const { encodeBatch } = await import(new URL('wire/stream-encoding.js', DIST).href)
const { startAgent } = await import(new URL('agent/agent.js', DIST).href)
const { influxPublisher } = await import(new URL('agent/influx-publisher.js', DIST).href)
const { redisSink } = await import(new URL('sinks/redis.js', DIST).href)
const { memorySink } = await import(new URL('sinks/memory.js', DIST).href)

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000000' },
    'per-entry': { type: 'string', default: '2000' },
    'influx-requests': { type: 'string', default: '300000' },
    encoding: { type: 'string', default: '2' },
  },
})
const ENCODING = Number(values.encoding)
if (ENCODING !== 1 && ENCODING !== 2) throw new Error('--encoding must be 1 or 2')
const REQUESTS = Number(values.requests)
const PER_ENTRY = Number(values['per-entry'])
const INFLUX_REQUESTS = Number(values['influx-requests'])

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
})
async function until(check, ms) {
  const end = Date.now() + ms
  while (!(await check())) { if (Date.now() > end) throw new Error('timed out'); await sleep(5) }
}

async function startInfluxd() {
  const [port, rpc] = [await freePort(), await freePort()]
  const dir = mkdtempSync(join(tmpdir(), 'rm-bench-influx-'))
  const config = writeInfluxdConfig(dir, port, rpc)
  const child = spawn('influxd', ['run', '-config', config], { stdio: 'ignore' })
  const url = `http://127.0.0.1:${port}`
  await until(async () => { try { return (await fetch(`${url}/ping`)).status === 204 } catch { return false } }, 20_000)
  const query = async (q, db = '') => (await (await fetch(`${url}/query?${new URLSearchParams({ q, db })}`, { method: 'POST' })).json())
  return { url, query, stop: () => { child.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }) } }
}

const ROUTES = Array.from({ length: 20 }, (_, i) => `api.v1.resource${i}.id`)
const DIMS = { service: 'shop', env: 'prod' }
function batch(n, offset) {
  const out = new Array(n)
  for (let i = 0; i < n; i++) {
    const k = offset + i
    const status = k % 50 === 0 ? 500 : k % 20 === 0 ? 404 : 200
    out[i] = {
      kind: 'request', prefix: '', route: ROUTES[k % ROUTES.length], method: k % 4 === 0 ? 'POST' : 'GET', status, aborted: false,
      dimensions: DIMS, counters: { Failure: status >= 500 ? 1 : 0, ClientError: status === 404 ? 1 : 0, Aborted: 0 },
      timers: { RequestTime: 0.5 + (k % 97) / 10, CpuTime: 0.1 + (k % 13) / 100 }, timestamp: 1763798400000 + k,
    }
  }
  return out
}

async function fill(url, stream, requests) {
  const client = createClient({ url })
  await client.connect()
  let bytes = 0
  let entries = 0
  for (let sent = 0; sent < requests;) {
    const n = Math.min(PER_ENTRY, requests - sent)
    const pending = []
    for (const e of encodeBatch(batch(n, sent), undefined, { version: ENCODING }).entries) {
      bytes += e.bytes
      entries++
      pending.push(client.xAdd(stream, '*', { v: e.v, n: String(e.n), p: e.p }))
    }
    await Promise.all(pending)
    sent += n
  }
  await client.close()
  return { bytes, entries }
}

async function drain(url, stream, publisher, requests) {
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const agent = startAgent({
    redis: url, stream, group: 'bench', consumer: 'one', publishers: [publisher], readCount: 100, blockMs: 100,
    onError: (e) => console.error(e.message),
  })
  await until(() => agent.stats().requests >= requests, 300_000)
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9
  const cpu = process.cpuUsage(cpu0)
  const cpuS = (cpu.user + cpu.system) / 1e6
  const stats = agent.stats()
  await agent.stop()
  if (stats.requests !== requests) throw new Error(`agent published ${stats.requests}, expected ${requests}`)
  return { wallS, cpuS, perWall: requests / wallS, perCpu: requests / cpuS }
}

const fmt = (n) => Math.round(n).toLocaleString('en-US')

async function main() {
  const redis = await startRedis()
  try {
    // 1. into a discarding publisher (aggregation included: that is the agent's own work)
    const discard = { name: 'discard', async publish(entries) { for (const e of entries) e.series() }, async close() {} }
    const f = await fill(redis.url, 'discard', REQUESTS)
    const perRequest = (f.bytes / REQUESTS).toFixed(1)
    console.log(`schema v=${ENCODING}: filled ${fmt(REQUESTS)} requests in ${f.entries} entries, ${perRequest} bytes/request`)
    const d = await drain(redis.url, 'discard', discard, REQUESTS)
    console.log(
      `drain → discard: ${fmt(d.perWall)} requests/s wall, ${fmt(d.perCpu)} requests per agent CPU-second ` +
      `(${d.wallS.toFixed(2)} s wall, ${d.cpuS.toFixed(2)} s CPU)`,
    )

    // 2. into InfluxDB
    let influx
    try { influx = await startInfluxd() } catch (error) { console.log(`drain → influx: skipped (${error.message}; install influxdb)`) }
    if (influx !== undefined) {
      try {
        await influx.query('CREATE DATABASE bench')
        await fill(redis.url, 'influx', INFLUX_REQUESTS)
        const i = await drain(redis.url, 'influx', influxPublisher({ url: influx.url, db: 'bench' }), INFLUX_REQUESTS)
        const res = await influx.query('SELECT sum("count") FROM "RequestTime"', 'bench')
        const counted = res.results[0].series?.[0]?.values[0]?.[1]
        if (counted !== INFLUX_REQUESTS) throw new Error(`InfluxDB counted ${counted}, expected ${INFLUX_REQUESTS}`)
        console.log(
          `drain → influx: ${fmt(i.perWall)} requests/s wall, ${fmt(i.perCpu)} requests per agent CPU-second ` +
          `(InfluxDB counted ${fmt(counted)} exactly)`,
        )
      } finally { influx.stop() }
    }

    // 3. app side: redisSink vs memorySink, CPU per record, interleaved rounds, medians
    const SENDS = 400
    const PER_SEND = 500
    const batches = Array.from({ length: SENDS }, (_, i) => batch(PER_SEND, i * PER_SEND))
    const measure = async (make) => {
      const sink = make()
      const cpu0 = process.cpuUsage()
      for (const b of batches) { sink.send(b); if (sink.stats !== undefined && sink.stats().backlog > 50_000) await sink.flush() }
      await sink.flush()
      const cpu = process.cpuUsage(cpu0)
      if (sink.stats !== undefined && sink.stats().delivered !== SENDS * PER_SEND) {
        throw new Error(`redisSink delivered ${sink.stats().delivered}`)
      }
      await sink.close()
      return (cpu.user + cpu.system) / (SENDS * PER_SEND)
    }
    const rounds = { redis: [], memory: [] }
    for (let r = 0; r < 5; r++) {
      rounds.memory.push(await measure(() => memorySink({ max: 1000 })))
      rounds.redis.push(await measure(() => redisSink({ url: redis.url, stream: `app${r}`, maxLen: 1000, encoding: ENCODING })))
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    console.log(
      `app side, CPU µs per request (median of 5, batches of ${PER_SEND}): ` +
      `redisSink ${median(rounds.redis).toFixed(2)}, memorySink ${median(rounds.memory).toFixed(2)}`,
    )
  } finally {
    await redis.close()
  }
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1) })
