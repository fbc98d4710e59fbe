/**
 * `routemeter top --once` as a user runs it (a child process, `node --import tsx src/cli/main.ts top …`) against
 * a private redis-server that a real wrapped server wrote to: counts and percentages exact, rates those counts
 * over the stream's age (and within 10 % of a steady load still running), quantiles those of one sketch of the
 * recorded values; the text table; a stream with no entries yet; an unreadable entry; Redis out of reach; bad arguments.
 */
import * as assert from 'uvu/assert'
import { createServer } from 'node:http'
import { hostname } from 'node:os'
import { createClient, type RedisClientType } from 'redis'
import { metrics, withMetrics, type MetricRecord, type Sink } from '../../src/index.js'
import { redisSink } from '../../src/sinks/redis.js'
import { Sketch } from '../../src/wire/sketch.js'
import { decodeEntry } from '../../src/wire/stream-encoding.js'
import type { Snapshot } from '../../src/top/snapshot.js'
import { MAX_CARRY_MS } from '../../src/top/window.js'
import { fetchText, listen } from '../support/http.js'
import { redisSuite } from '../support/redis-server.js'
import { freePort } from '../support/services.js'
import { runNode, type NodeRun } from '../support/run-node.js'

const { test, it, redis, cleanup } = redisSuite('routemeter top --once', { file: 'test/top/once.test.ts' })

function top(args: string[], env: NodeJS.ProcessEnv = {}): Promise<NodeRun> {
  // uvu sets FORCE_COLOR in its own process. Beside NO_COLOR, Node 22 prints a warning on stderr, which these tests read.
  const { FORCE_COLOR: _forced, ...inherited } = process.env
  return runNode(['--import', 'tsx', 'src/cli/main.ts', 'top', ...args], {
    env: { ...inherited, ROUTEMETER_REDIS_URL: '', ROUTEMETER_STREAM: '', ROUTEMETER_GROUP: '', NO_COLOR: '', ...env },
    timeoutMs: 20_000,
  })
}

/** The stream `top` reads, written by a real wrapped server: 300 GET /users/:id, 40 POST /orders (500), 60 GET /missing (404). */
let served: Promise<{ stream: string, records: MetricRecord[] }> | undefined
function serve(): Promise<{ stream: string, records: MetricRecord[] }> {
  served ??= (async () => {
    const stream = 'top-once-mix'
    const redisOut = redisSink({ url: redis.url, stream, onError: () => {} })
    const records: MetricRecord[] = []
    // Every batch to Redis and to this list, so the test knows each recorded value.
    const tee: Sink = {
      send(batch) { records.push(...batch); return redisOut.send(batch) },
      flush: () => redisOut.flush(),
      close: () => redisOut.close(),
    }
    const app = withMetrics((req, res) => {
      if (req.url === '/orders') { res.statusCode = 500; res.end('no'); return }
      if (req.url === '/missing') { res.statusCode = 404; res.end('?'); return }
      res.end('ok')
    }, { sink: tee, onError: () => {} })
    const { url, close } = await listen(createServer(app))
    const hit = async (n: number, path: (i: number) => string, method = 'GET'): Promise<void> => {
      for (let i = 0; i < n; i += 20) {
        await Promise.all(Array.from({ length: Math.min(20, n - i) }, async (_, k) => {
          await fetchText(`${url}${path(i + k)}`, { method })
        }))
      }
    }
    await hit(300, (i) => `/users/${i}`)
    await hit(40, () => '/orders', 'POST')
    await hit(60, () => '/missing')
    await metrics.flush()
    await close()
    await tee.close()
    return { stream, records }
  })()
  return served
}

/** The `routemeter.dropped.<reason>` counters of the process records in `entries`, summed by reason. */
function droppedIn(entries: ReadonlyArray<{ message: Record<string, string> }>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const { message } of entries) {
    const batch = decodeEntry(message.v, message.p)
    for (const s of batch.summaries) {
      const name = batch.strings[s.name]
      if (batch.groups[s.group].kind !== 'process' || !name.startsWith('routemeter.dropped.')) continue
      const reason = name.slice('routemeter.dropped.'.length)
      out[reason] = (out[reason] ?? 0) + s.sum
    }
  }
  return out
}

async function connect(): Promise<RedisClientType> {
  const client: RedisClientType = createClient({ url: redis.url })
  client.on('error', () => {})
  await client.connect()
  cleanup(() => client.destroy())
  return client
}

it('--once --json: counts and percentages exact, rates over the stream\'s age, quantiles of the recorded values', async () => {
  const { stream, records } = await serve()
  const client = await connect()
  await client.xGroupCreate(stream, 'agents', '0')
  const stored = (await client.xRange(stream, '-', '+')) ?? []
  const run = await top(['--once', '--json', '--redis', redis.url, '--stream', stream, '--group', 'agents', '--window', '1m'])
  assert.is(run.stderr, '')
  assert.is(run.code, 0)
  assert.is(run.stdout.split('\n').length, 2, 'one JSON object on one line')
  const s = JSON.parse(run.stdout) as Snapshot
  const sources = new Set(stored.map((e) => e.message.s))
  assert.equal([s.state, s.empty, s.stream, s.windowMs, s.sort, s.entries, s.streamLength, s.lag],
    ['up', false, stream, 60_000, 'rps', stored.length, stored.length, stored.length])
  assert.equal([...sources], [`${hostname()}:${process.pid}`], 'redisSink names this process in every entry')
  assert.is(s.processes, 1)
  // The drop counters of the entries' process records: tests run before this one in the same process leave some.
  assert.equal(s.dropped, droppedIn(stored))
  assert.equal(s.totals.requests, 400)
  // The stream is younger than the window: rates are over the time since it began, which the window takes from the
  // oldest entry's earliest record (at most MAX_CARRY_MS before the entry's stamp, which is after the first request).
  const firstRequest = Math.min(...records.filter((r) => r.kind === 'request').map((r) => r.timestamp))
  const age = s.at - firstRequest
  // Unless the oldest entry was written more than MAX_CARRY_MS after the first request (a CI run stalled this
  // process for seconds: its first entry came 7 s after it), when the start is taken as that much before it.
  const carried = s.at - (Number(stored[0]!.id.split('-')[0]) - MAX_CARRY_MS)
  assert.ok(s.ratesOverMs >= Math.max(1000, Math.min(age, carried)) - 5 && s.ratesOverMs <= Math.max(1000, age + MAX_CARRY_MS) + 5,
    `ratesOverMs ${s.ratesOverMs} for a stream ${age.toFixed(0)} ms old, its oldest entry ${(carried - MAX_CARRY_MS).toFixed(0)} ms`)
  const over = (n: number): number => n / (s.ratesOverMs / 1000)
  const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * b
  assert.equal([s.totals.failurePct, s.totals.clientErrorPct, s.totals.abortedPct], [4000 / 400, 6000 / 400, 0])
  assert.ok(close(s.totals.rps, over(400)), `total rate ${s.totals.rps}`)
  assert.equal(s.routes.map((r) => [r.method, r.route, r.requests, r.failurePct, r.clientErrorPct, r.abortedPct]), [
    ['GET', 'users.id', 300, 0, 0, 0],
    ['GET', 'unmatched', 60, 0, 100, 0],
    ['POST', 'orders', 40, 100, 0, 0],
  ])
  for (const r of s.routes) assert.ok(close(r.rps, over(r.requests)), `${r.route}: ${r.rps} req/s`)
  let cpuTotal = 0
  for (const row of s.routes) {
    const mine = records.filter((r) => r.route === row.route)
    const sketch = new Sketch()
    let cpu = 0
    for (const r of mine) { sketch.add(r.timers.RequestTime); cpu += r.timers.CpuTime }
    cpuTotal += cpu
    assert.equal([row.p50, row.p99], [sketch.quantile(0.5), sketch.quantile(0.99)], row.route)
    assert.ok(Math.abs(row.cpuMean! - cpu / mine.length) <= 1e-9 * (cpu / mine.length), `${row.route}: CpuTime mean ${row.cpuMean}`)
    assert.is(row.spark.length, 30)
  }
  assert.ok(Math.abs(s.totals.cpuMs - cpuTotal) <= 1e-9 * cpuTotal, `cpuMs ${s.totals.cpuMs} against ${cpuTotal}`)
  assert.ok(Math.abs(s.routes.reduce((sum, r) => sum + r.cpuShare, 0) - 100) < 1e-9, 'the CPU shares add up to 100')
  const [group] = (await client.xInfoGroups(stream)) as unknown as Array<Record<string, unknown>>
  assert.equal([group.consumers, group.pending, group.lag], [0, 0, stored.length], 'the agents\' group untouched')
})

it('--once without --json: the live view\'s table, plain when NO_COLOR is set or stdout is a pipe, sorted by --sort', async () => {
  const { stream } = await serve()
  const plain = await top(['--once', '--redis', redis.url, '--stream', stream, '--sort', 'errors'], { NO_COLOR: '1' })
  assert.is(plain.code, 0)
  assert.not.ok(plain.stdout.includes('\x1b['), 'no escape code')
  const lines = plain.stdout.split('\n')
  assert.match(lines[0], new RegExp(`^routemeter top · stream ${stream} · up · window 1m · sort errors · \\d{4}-\\d\\d-\\d\\dT`))
  assert.match(lines[1], /^400 requests · [\d.]+ req\/s · Fail 10\.0% · 4xx 15\.0% · Abort 0 · CPU [\d.]+ ms$/)
  const table = lines.slice(lines.indexOf('') + 1).filter((line) => line !== '')
  assert.match(table[0], /^route\s+method\s+req\/s\s+p50 ms\s+p99 ms\s+CPU ms\/req\s+CPU %\s+Fail %\s+4xx %\s+Abort %\s+last 30 s$/)
  assert.equal(table.slice(1).map((line) => line.split(/\s+/).slice(0, 2)), [['orders', 'POST'], ['unmatched', 'GET'], ['users.id', 'GET']])
  // Rates over the same seconds: 40, 60 and 300 requests.
  const rates = table.slice(1).map((line) => Number(line.split(/\s+/)[2]))
  assert.ok(Math.abs(rates[1] / rates[0] - 1.5) < 0.1 && Math.abs(rates[2] / rates[0] - 7.5) < 0.3, `rates ${rates.join(', ')}`)
})

it('without --once into a pipe: one snapshot, as --once prints it, and a line on stderr saying so', async () => {
  const { stream } = await serve()
  // Before, the live screen wrote its escape codes into the pipe every second until killed (here: the 20 s timeout).
  const piped = await top(['--redis', redis.url, '--stream', stream], { NO_COLOR: '1' })
  assert.is(piped.code, 0)
  assert.match(piped.stderr, /stdout is not a terminal: printing one snapshot, as --once does/)
  assert.not.ok(piped.stdout.includes('\x1b['), 'no escape code')
  assert.match(piped.stdout.split('\n')[0]!, new RegExp(`^routemeter top · stream ${stream} · up · window 1m`))
  assert.ok(piped.stdout.split('\n').some((line) => /^users\.id\s+GET\s/.test(line)), piped.stdout)
})

it('rates within 10 % of a steady load that is still running', async () => {
  const stream = 'top-once-steady'
  // Flushes every 200 ms: while the stream is younger than the window, its newest requests (not flushed yet)
  // make the rate read low by up to a flush interval over the stream's age, 1 s over 4.5 s at the default.
  const sink = redisSink({ url: redis.url, stream, onError: () => {} })
  // When each request was served: the rate top must report is the one the server saw, whatever pace the load
  // generator kept (in a CI run this process stalled and it made 36 requests a second, not 50).
  const servedAt: number[] = []
  const app = withMetrics((_req, res) => { servedAt.push(Date.now()); res.end('ok') }, { sink, flushInterval: 200, onError: () => {} })
  const { url, close } = await listen(createServer(app))
  cleanup(async () => { await close(); await sink.close() })
  const perSecond = 50
  let running = true
  const start = performance.now()
  const load = (async () => {
    for (let i = 0; running; i++) {
      const wait = start + (i * 1000) / perSecond - performance.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      await fetchText(`${url}/steady`)
    }
  })()
  // 4 s of load before top looks (and ≈ 0.5 s while it starts): what is not flushed yet is then ≈ 3 % of it.
  await new Promise((resolve) => setTimeout(resolve, 4000))
  const run = await top(['--once', '--json', '--redis', redis.url, '--stream', stream, '--window', '1m'])
  running = false
  await load
  assert.is(run.code, 0, run.stderr)
  const s = JSON.parse(run.stdout) as Snapshot
  const [row] = s.routes
  assert.is(row.route, 'steady')
  const served = servedAt.filter((t) => t > s.at - s.ratesOverMs && t <= s.at).length / (s.ratesOverMs / 1000)
  assert.ok(served > perSecond / 2, `the load ran: ${served.toFixed(1)} req/s served`)
  // Every error reads low (requests not flushed yet); none reads high but by a request on the window's edge.
  for (const [what, rps] of [['route', row.rps], ['total', s.totals.rps]] as const) {
    const says = `${what}: ${rps.toFixed(1)} req/s against ${served.toFixed(1)} served over ${s.ratesOverMs} ms`
    assert.ok(rps >= served * 0.9 && rps <= served * 1.05, says)
  }
  assert.ok(Math.abs(s.totals.rps - row.rps) < 1e-9, 'one route: its rate is the total')
})

it('a stream with no entries yet: empty in JSON, and the table says so', async () => {
  const [json, text] = await Promise.all([
    top(['--once', '--json', '--redis', redis.url, '--stream', 'top-once-nothing']),
    top(['--once', '--redis', redis.url, '--stream', 'top-once-nothing']),
  ])
  assert.is(json.code, 0)
  const s = JSON.parse(json.stdout) as Snapshot
  assert.equal([s.empty, s.entries, s.routes, s.streamLength, s.lag, s.processes, s.totals.requests], [true, 0, [], 0, null, null, 0])
  assert.is(text.code, 0)
  assert.match(text.stdout, /\n\nno entries yet in stream top-once-nothing: is an app writing to it \(redisSink\)\?\n$/)
})

it('an entry that cannot be decoded is skipped and counted; the others are shown', async () => {
  const client = await connect()
  const stream = 'top-once-garbage'
  await client.xAdd(stream, '*', { v: '2', n: '1', p: '{"t":' })
  const { stream: mix } = await serve()
  for (const e of (await client.xRange(mix, '-', '+')) ?? []) await client.xAdd(stream, '*', e.message)
  const run = await top(['--once', '--json', '--redis', redis.url, '--stream', stream])
  const s = JSON.parse(run.stdout) as Snapshot
  assert.equal([run.code, s.unreadable, s.totals.requests], [0, 1, 400])
})

it('Redis out of reach: exit 1 with one line saying where, the password masked', async () => {
  const port = await freePort()
  const run = await top(['--once', '--redis', `redis://:hunter2@127.0.0.1:${port}`])
  assert.is(run.code, 1)
  assert.is(run.stdout, '')
  const where = `redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}`
  assert.match(run.stderr, new RegExp(`^routemeter top: cannot read routemeter from Redis at ${where}: .*ECONNREFUSED.*\\n$`))
  assert.not.match(run.stderr, /hunter2/)
})

test('bad arguments exit 2 naming the flag; --help exits 0', async () => {
  const cases: Array<[string[], RegExp, NodeJS.ProcessEnv?]> = [
    [['--window', '3s'], /^routemeter top: --window must be <n>s or <n>m from 5s to 15m \(10s, 1m, 5m\), got "3s"\n/],
    [['--window', '16m'], /--window must be .* got "16m"/],
    [['--sort', 'latency'], /--sort must be one of rps, p99, cpu, errors, got "latency"/],
    [['--json'], /--json only applies with --once/],
    [['--redis', 'mysql://u:hunter2@x'], /--redis must use redis:\/\/ or rediss:\/\//],
    [[], /--redis \(from ROUTEMETER_REDIS_URL\) must use redis:\/\//, { ROUTEMETER_REDIS_URL: 'http://x' }],
    [['--stream', ' '], /--stream must be a non-empty name/],
    [['--nope'], /Unknown option '--nope'/],
  ]
  await Promise.all(cases.map(async ([args, pattern, env]) => {
    const run = await top(args, env)
    assert.is(run.code, 2, args.join(' '))
    assert.match(run.stderr, pattern)
    assert.match(run.stderr, /Run `routemeter top --help` for the options\.\n$/)
    assert.not.match(run.stderr, /hunter2|at .*\.ts:\d+/)
  }))
  const help = await top(['--help'])
  assert.is(help.code, 0)
  for (const flag of ['--redis', '--stream', '--group', '--window', '--sort', '--once', '--json']) {
    assert.ok(help.stdout.includes(flag), flag)
  }
})

test.run()
