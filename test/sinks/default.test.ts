import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseLine, udpCollector } from '../support/udp.js'
import { announced } from '../../src/sinks/default.js'
import { redisSink, statsdSink } from '../../src/index.js'

const run = promisify(execFile)
const root = join(__dirname, '..', '..')

// In a child process: the default sink is chosen once per process, at the first wrapper without a sink.
const script = `
const http = require('node:http')
const { withMetrics, metrics } = require('routemeter')
const server = http.createServer(withMetrics((req, res) => res.end(), { prefix: 'dflt' }))
server.listen(0, '127.0.0.1', () => {
  http.get({ host: '127.0.0.1', port: server.address().port, path: '/things/12' }, (res) => {
    res.resume()
    res.on('end', async () => { await metrics.close(); server.close() })
  })
})`

/** Runs the script with `env` over this process's environment: its stderr, and whether it failed. */
async function runScript(env: Record<string, string>): Promise<{ failed: boolean, stderr: string }> {
  return await run(process.execPath, ['-e', script], { cwd: root, env: { ...process.env, ...env }, timeout: 20_000 }).then(
    ({ stderr }) => ({ failed: false, stderr }),
    (error: { stderr: string }) => ({ failed: true, stderr: error.stderr }),
  )
}

test('with ROUTEMETER_STATSD set and no sink option, records go to that StatsD', async () => {
  const udp = await udpCollector()
  try {
    const child = await runScript({ ROUTEMETER_STATSD: `127.0.0.1:${udp.port}` })
    assert.is(child.failed, false, child.stderr)
    // The one request's record: two timers and three counters.
    await udp.waitFor((lines) => lines.length === 5)
    const lines = udp.lines.map(parseLine).map((p) => `${p.name}|${p.type}${p.type === 'c' ? `|${p.value}` : ''}`)
    assert.equal(lines.sort(), [
      'dflt.things.id.Aborted|c|0', 'dflt.things.id.ClientError|c|0', 'dflt.things.id.CpuTime|ms',
      'dflt.things.id.Failure|c|0', 'dflt.things.id.RequestTime|ms',
    ])
  } finally {
    udp.close()
  }
})

test('the default sink says once, at the first batch, where metrics go (password redacted)', async () => {
  // Port 1 on loopback: nothing listens, so the sink only warns and keeps its backlog; the test needs no Redis.
  const { failed, stderr } = await runScript({ ROUTEMETER_STATSD: '', ROUTEMETER_REDIS_URL: 'redis://:hunter2@127.0.0.1:1/0' })
  assert.is(failed, false, stderr)
  const lines = stderr.split('\n').filter((l) => l.includes('sending metrics to'))
  assert.equal(lines.length, 1, stderr)
  const redis = 'redis://:***@127.0.0.1:1/0, stream "routemeter" (from ROUTEMETER_REDIS_URL)'
  assert.ok(lines[0]!.endsWith(`RouteMeterWarning: routemeter: sending metrics to Redis at ${redis}`), lines[0])
  assert.not.match(stderr, /hunter2/)

  const udp = await udpCollector()
  try {
    const statsd = await runScript({ ROUTEMETER_STATSD: `127.0.0.1:${udp.port}` })
    assert.is(statsd.failed, false, statsd.stderr)
    assert.ok(statsd.stderr.includes(`sending metrics to StatsD at 127.0.0.1:${udp.port} (from ROUTEMETER_STATSD)`), statsd.stderr)
  } finally {
    udp.close()
  }
})

test('a malformed ROUTEMETER_STATSD is a TypeError at the first wrapper, not a crash later', async () => {
  const { failed, stderr } = await runScript({ ROUTEMETER_STATSD: 'host:99999' })
  assert.is(failed, true, stderr)
  assert.ok(stderr.includes('TypeError: routemeter: statsdSink option "ROUTEMETER_STATSD" must be host[:port], got "host:99999"'), stderr)
})

test('the default sink keeps acceptsOnSend: a StatsD default is counted by the sink at close, a Redis one by the batcher', async () => {
  const statsd = statsdSink({ port: 9 })
  const redis = redisSink({ url: 'redis://127.0.0.1:1', maxBacklog: 1 })
  try {
    assert.is(announced(statsd, 'StatsD').acceptsOnSend, true)
    assert.not.ok(announced(redis, 'Redis').acceptsOnSend)
  } finally {
    await Promise.all([statsd.close(), redis.close()])
  }
})

test.run()
