/**
 * `routemeter agent` as a real child process (`node --import tsx src/cli/main.ts`): arguments, status
 * line, SIGTERM drain, and a SIGKILL mid-stream followed by a restart with InfluxDB counts still exact.
 */
import * as assert from 'uvu/assert'
import { spawn, type ChildProcess } from 'node:child_process'
import { createClient, type RedisClientType } from 'redis'
import type { MetricRecord } from '../../src/wire/record.js'
import { rawEntry } from '../support/entries.js'
import { until } from '../support/eventually.js'
import { influxSuite } from '../support/influxd.js'
import { startRedis } from '../support/redis-server.js'
import { freePort, servicesAvailable, trackChild, waitFor } from '../support/services.js'
import { udpCollector } from '../support/udp.js'

const { test, it, available, influx, redis, newDb } = influxSuite('routemeter agent (CLI)', { file: 'test/cli/agent.test.ts', redis: true })
const openssl = { binary: 'openssl', debian: 'openssl' }
const withTls = available && servicesAvailable('test/cli/agent.test.ts (routemeter agent over TLS)', [openssl]) ? test : test.skip

interface Run { child: ChildProcess, output: () => string, exited: Promise<number | null> }

function cli(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: process.cwd(), env: { ...process.env, ROUTEMETER_REDIS_URL: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  })
  const untrack = trackChild(child)
  let output = ''
  child.stdout?.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { output += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { untrack(); resolve(code) }))
  return { child, output: () => output, exited }
}

test('--help prints the flags and exits 0', async () => {
  const run = cli(['agent', '--help'])
  assert.is(await run.exited, 0)
  const flags = [
    '--redis', '--stream', '--group', '--influx', '--influx-db', '--influx-token', '--statsd', '--prometheus', '--console', '--json',
  ]
  for (const flag of flags) {
    assert.ok(run.output().includes(flag), flag)
  }
})

test('bad arguments exit 2 with a clear one-line reason', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['agent', '--nope'], /Unknown option '--nope'/],
    [['agent'], /no publisher/],
    [['agent', '--influx', 'http://x:8086'], /--influx needs --influx-db/],
    [['agent', '--console', '--redis', 'mysql://u:hunter2@x'], /--redis must use redis:\/\/ or rediss:\/\//],
    [['agent', '--statsd', 'nohostport'], /--statsd must be HOST:PORT/],
    [['agent', '--prometheus', '9464'], /--prometheus must be \[HOST\]:PORT/],
    [['agent', '--console', '--prometheus-status-code'], /--prometheus-status-code only applies with --prometheus/],
    [['agent', '--console', '--max-deliveries', 'many'], /--max-deliveries must be an integer/],
    [['agent', '--influx', 'http://x:8086', '--influx-db', ''], /routemeter agent: --influx-db must be a non-empty string/],
    // Refused by startAgent itself, after the publishers were built: a usage error all the same, not a stack trace.
    [['agent', '--console', '--stream', ''], /routemeter agent: --stream must be a non-empty string, got ""\n/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ]
  await Promise.all(cases.map(async ([args, pattern]) => {
    const run = cli(args)
    assert.is(await run.exited, 2, args.join(' '))
    assert.match(run.output(), pattern)
    assert.not.match(run.output(), /hunter2|at .*\.ts:\d+/)
  }))
})

let no = 0

let ts = 0
async function produce(client: Pick<RedisClientType, 'xAdd'>, stream: string, entries: number, perEntry: number): Promise<void> {
  for (let e = 0; e < entries; e++) {
    const batch: MetricRecord[] = Array.from({ length: perEntry }, () => ({
      kind: 'request' as const, prefix: '', route: `r${ts % 5}`, method: 'GET', status: 200, aborted: false, dimensions: {},
      counters: { Failure: 0 }, timers: { RequestTime: 1 }, timestamp: 1763798400000 + ts++,
    }))
    const x = rawEntry('*', batch)
    await client.xAdd(stream, x.id, { v: x.v, n: String(x.n), p: x.p })
  }
}

/** True once the agents' group has read every entry of `stream` and acked it: nothing more can be published. */
async function drained(client: Pick<RedisClientType, 'xInfoGroups' | 'xPending'>, stream: string): Promise<boolean> {
  const [group] = await client.xInfoGroups(stream)
  if (group === undefined || Number((group as Record<string, unknown>).lag) !== 0) return false
  return (await client.xPending(stream, 'routemeter')).pending === 0
}

it('SIGTERM drains, acks and exits 0; the status line is printed meanwhile', async () => {
  const db = await newDb('cli')
  const stream = `st${++no}`
  const client = createClient({ url: redis.url })
  await client.connect()
  try {
    const args = ['agent', '--stream', stream, '--influx', influx.url, '--influx-db', db, '--status-interval', '1']
    const run = cli(args, { ROUTEMETER_REDIS_URL: redis.url })
    await waitFor('connected', () => run.output().includes('connected'), 15_000)
    await produce(client, stream, 50, 20)
    const status = /entries\/s \d+ · requests\/s [\d,]+ · lag \d+ · pending \d+ · retries 0 · dead-lettered 0/
    await waitFor('a status line', () => status.test(run.output()), 5000)
    run.child.kill('SIGTERM')
    const started = Date.now()
    assert.is(await run.exited, 0, run.output())
    assert.ok(Date.now() - started < 5000)
    assert.match(run.output(), /SIGTERM: draining/)
    // Drained means: what it had read is published and acked; what it had not read stays for the next agent.
    const stopped = /stopped: (\d+) entries, (\d+) requests published/.exec(run.output())
    assert.ok(stopped !== null, run.output())
    const [entries, requests] = [Number(stopped[1]), Number(stopped[2])]
    assert.ok(entries > 0, run.output())
    assert.is(requests, entries * 20)
    assert.is((await client.xPending(stream, 'routemeter')).pending, 0)
    assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"'), requests)
    const [group] = await client.xInfoGroups(stream)
    assert.is(Number((group as Record<string, unknown>).lag), 50 - entries)
  } finally { await client.close() }
})

it('a console reader that goes away (EPIPE) stops the agent as SIGTERM would, leaving what it could not show unacked', async () => {
  const stream = `st${++no}`
  const client = createClient({ url: redis.url })
  await client.connect()
  try {
    const run = cli(['agent', '--stream', stream, '--console', '--json', '--status-interval', '0'], { ROUTEMETER_REDIS_URL: redis.url })
    await waitFor('connected', () => run.output().includes('connected'), 15_000)
    await produce(client, stream, 5, 2)
    await waitFor('the first lines', () => run.output().includes('"measurement":"RequestTime"'), 5000)
    run.child.stdout!.destroy() // the reader is gone: the agent's next write fails with EPIPE
    await produce(client, stream, 5, 2)
    // Bounded: an agent that only retries the console publisher with backoff would never exit.
    let exited: number | null | 'still running' = 'still running'
    void run.exited.then((code) => { exited = code })
    await waitFor('the agent to exit', () => exited !== 'still running', 15_000).catch(() => {})
    assert.is(exited, 0, run.output())
    assert.match(run.output(), /stdout closed: draining/)
    assert.not.match(run.output(), /Error: write EPIPE\n\s+at /)
    // The five entries written after the reader left were not shown, so they are not acked.
    const [group] = await client.xInfoGroups(stream)
    const unacked = (await client.xPending(stream, 'routemeter')).pending + Number((group as Record<string, unknown>).lag ?? 0)
    assert.ok(unacked >= 5, `${unacked} entries left for the next agent`)
  } finally { await client.close() }
})

it('SIGKILL mid-stream then restart: InfluxDB counts exact, no loss and no duplicates', async () => {
  const db = await newDb('cli')
  const stream = `st${++no}`
  const client = createClient({ url: redis.url })
  await client.connect()
  const args = [
    'agent', '--redis', redis.url, '--stream', stream, '--consumer', 'k1', '--influx', influx.url, '--influx-db', db,
    '--status-interval', '0',
  ]
  try {
    const N = 400 * 50
    await produce(client, stream, 400, 50)
    const first = cli(args)
    // Kill once it is visibly part-way: some requests in InfluxDB, and entries read but not acked yet (so the
    // restart has its own pending entries to resume). Between two reads nothing is pending: under load a kill
    // timed on InfluxDB alone landed there (5,000 published, 0 pending), so both are waited for.
    await waitFor('progress', async () => (await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"')) > 0 &&
      (await client.xPending(stream, 'routemeter')).pending > 0, 15_000, 1)
    first.child.kill('SIGKILL')
    assert.is(await first.exited, null)
    const before = await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"')
    const pendingAtKill = (await client.xPending(stream, 'routemeter')).pending
    assert.ok(before < N, `killed too late: all ${before} published`)
    // The agent may ack the batch in flight between the check and the kill; the exact count after the restart
    // below is what shows no loss and no duplicates either way.
    await produce(client, stream, 100, 50)
    const second = cli(args)
    const published = async (): Promise<number> => await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"')
    // Every entry read and acked, after its write: nothing more can arrive, so a duplicate would show now.
    await until(async () => (await published()) >= N + 5000 && await drained(client, stream), 'all published and acked', 20_000, 50)
    assert.is(await published(), N + 5000, `before kill ${before}, pending at kill ${pendingAtKill}`)
    second.child.kill('SIGTERM')
    assert.is(await second.exited, 0)
    assert.is((await client.xPending(stream, 'routemeter')).pending, 0)
  } finally { await client.close() }
})

it('--statsd HOST:PORT forwards to a real UDP socket with --statsd-prefix', async () => {
  const udp = await udpCollector()
  const client = createClient({ url: redis.url })
  await client.connect()
  const stream = `st${++no}`
  try {
    await produce(client, stream, 3, 4)
    const run = cli([
      'agent', '--redis', redis.url, '--stream', stream, '--statsd', `127.0.0.1:${udp.port}`, '--statsd-prefix', 'web',
      '--status-interval', '0',
    ])
    await udp.waitFor((lines) => lines.filter((l) => /^web\.r\d\.RequestTime:1\|ms$/.test(l)).length === 12, 15_000)
    run.child.kill('SIGTERM')
    assert.is(await run.exited, 0)
  } finally {
    udp.close()
    await client.close()
  }
})

it('a missing InfluxDB database is created and the data lands; the log has one prefix per line', async () => {
  const db = `missing${++no}` // not made by newDb: the agent must create it
  const stream = `st${no}`
  const client = createClient({ url: redis.url })
  await client.connect()
  await produce(client, stream, 3, 4)
  const run = cli(['agent', '--redis', redis.url, '--stream', stream, '--influx', influx.url, '--influx-db', db, '--status-interval', '0'])
  try {
    const count = async (): Promise<number> => await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"')
    await waitFor('data in the new database', async () => (await count()) === 12, 15_000, 50)
    run.child.kill('SIGTERM')
    assert.is(await run.exited, 0, run.output())
    assert.match(run.output(), new RegExp(`routemeter influx: database "${db}" did not exist; created it`))
    assert.not.match(run.output(), /routemeter (agent|influx): routemeter/)
    for (const line of run.output().trim().split('\n')) assert.match(line, /^\S+Z routemeter (agent|influx): \S/, line)
  } finally {
    run.child.kill('SIGKILL') // a no-op after a clean exit; after a failed wait, the agent must not outlive the test
    await client.close()
  }
})

it('a 401 that echoes the Authorization header never puts the credential in the log', async () => {
  const { createServer } = await import('node:http')
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.statusCode = 401
      res.end(`{"error":"bad credentials","echo":"Authorization: ${String(req.headers.authorization)}"}`)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as import('node:net').AddressInfo
  const stream = `st${++no}`
  const client = createClient({ url: redis.url })
  await client.connect()
  await produce(client, stream, 1, 1)
  const run = cli(['agent', '--redis', redis.url, '--stream', stream, '--influx', `http://user:pw@127.0.0.1:${port}`, '--influx-db', 'db',
    '--status-interval', '0', '--drain-timeout-ms', '500'])
  try {
    await waitFor('the 401 in the log', () => run.output().includes('answered 401'), 15_000)
    run.child.kill('SIGTERM')
    await run.exited
    const base64 = Buffer.from('user:pw').toString('base64')
    for (const form of [':pw@', base64, base64.replace(/=+$/, ''), base64.slice(0, 6)]) {
      assert.not.ok(run.output().includes(form), `${form} in\n${run.output()}`)
    }
    assert.ok(run.output().includes('"echo":"Authorization: Basic ***"'), run.output())
  } finally {
    run.child.kill('SIGKILL')
    server.closeAllConnections()
    server.close()
    await client.close()
  }
})

it('--prometheus serves /metrics with the exact request count; a port in use exits 1 before reading', async () => {
  const client = createClient({ url: redis.url })
  await client.connect()
  const stream = `st${++no}`
  const port = await freePort()
  const args = ['agent', '--redis', redis.url, '--stream', stream, '--status-interval', '0', '--prometheus-status-code']
  const run = cli([...args, '--prometheus', `127.0.0.1:${port}`])
  try {
    await waitFor('connected', () => run.output().includes('connected'), 15_000)
    assert.match(run.output(), new RegExp(`prometheus http://127\\.0\\.0\\.1:${port}/metrics \\(with status codes\\)`))
    await produce(client, stream, 20, 10)
    let text = ''
    const count = (): number => [...text.matchAll(/^http_server_request_duration_seconds_count\{(.*)\} (\d+)$/gm)]
      .reduce((n, m) => n + Number(m[2]), 0)
    await waitFor('200 requests on /metrics', async () => {
      text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
      return count() === 200
    }, 15_000, 50)
    assert.match(text, /http_route="r0",http_request_method="GET",status_class="2xx",http_response_status_code="200"/)
    // A second agent on the same port cannot serve: it says why and exits 1, leaving the stream to the first.
    const second = cli([...args, '--consumer', 'second', '--prometheus', `127.0.0.1:${port}`])
    assert.is(await second.exited, 1, second.output())
    assert.match(second.output(), /cannot serve \/metrics on 127\.0\.0\.1:\d+: listen EADDRINUSE/)
    assert.not.match(second.output(), /connected/)
    run.child.kill('SIGTERM')
    assert.is(await run.exited, 0, run.output())
  } finally { run.child.kill('SIGKILL'); await client.close() }
})

withTls('reads over rediss:// (TLS) and prints JSON lines with --console --json', async () => {
  const tlsServer = await startRedis({ tls: true, password: 'pw' })
  const client = createClient({ url: tlsServer.url })
  await client.connect()
  try {
    const tls = tlsServer.tls as { url: string, caFile: string }
    await produce(client, 'tls', 2, 3)
    const env = { ROUTEMETER_REDIS_URL: tls.url, NODE_EXTRA_CA_CERTS: tls.caFile }
    const run = cli(['agent', '--stream', 'tls', '--console', '--json', '--status-interval', '0'], env)
    // One JSON line per series per entry: the RequestTime lines' counts add up to the 2 × 3 requests produced.
    const requests = (): number => run.output().split('\n').filter((l) => l.includes('"measurement":"RequestTime"'))
      .reduce((n, l) => n + (JSON.parse(l) as { count: number }).count, 0)
    await waitFor('JSON lines for 6 requests', () => requests() >= 6, 15_000)
    assert.is(requests(), 6, run.output())
    assert.match(run.output(), /redis rediss:\/\/:\*\*\*@127\.0\.0\.1/)
    assert.not.match(run.output(), /:pw@/)
    run.child.kill('SIGINT')
    assert.is(await run.exited, 0)
  } finally {
    await client.close()
    await tlsServer.stop({ keepData: false })
  }
})

test.run()
