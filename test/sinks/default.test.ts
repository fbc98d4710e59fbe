import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseLine, udpCollector } from '../support/udp.js'

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

test('with ROUTEMETER_STATSD set and no sink option, records go to that StatsD', async () => {
  const udp = await udpCollector()
  try {
    await run(process.execPath, ['-e', script], { cwd: root, env: { ...process.env, ROUTEMETER_STATSD: `127.0.0.1:${udp.port}` }, timeout: 20_000 })
    await udp.waitFor((lines) => lines.some((l) => l.startsWith('dflt.things.id.RequestTime:')))
    assert.ok(udp.lines.map(parseLine).some((p) => p.name === 'dflt.things.id.Failure' && p.value === 0))
  } finally {
    udp.close()
  }
})

test('the default sink says once, at the first batch, where metrics go (password redacted)', async () => {
  // Port 1 on loopback: nothing listens, so the sink only warns and keeps its backlog; the test needs no Redis.
  const env = { ...process.env, ROUTEMETER_STATSD: '', ROUTEMETER_REDIS_URL: 'redis://:hunter2@127.0.0.1:1/0' }
  const { stderr } = await run(process.execPath, ['-e', script], { cwd: root, env, timeout: 20_000 })
  const lines = stderr.split('\n').filter((l) => l.includes('sending metrics to'))
  assert.equal(lines.length, 1, stderr)
  assert.match(lines[0]!, /RouteMeterWarning: routemeter: sending metrics to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0, stream "routemeter" \(from ROUTEMETER_REDIS_URL\)/)
  assert.not.match(stderr, /hunter2/)

  const udp = await udpCollector()
  try {
    const statsd = await run(process.execPath, ['-e', script], { cwd: root, env: { ...process.env, ROUTEMETER_STATSD: `127.0.0.1:${udp.port}` }, timeout: 20_000 })
    assert.match(statsd.stderr, new RegExp(`sending metrics to StatsD at 127\\.0\\.0\\.1:${udp.port} \\(from ROUTEMETER_STATSD\\)`))
  } finally {
    udp.close()
  }
})

test('a malformed ROUTEMETER_STATSD is a TypeError at the first wrapper, not a crash later', async () => {
  const failed = await run(process.execPath, ['-e', script], { cwd: root, env: { ...process.env, ROUTEMETER_STATSD: 'host:99999' }, timeout: 20_000 }).then(
    () => undefined,
    (error: { stderr: string }) => error.stderr,
  )
  assert.match(failed ?? '', /TypeError: routemeter: statsdSink option "ROUTEMETER_STATSD" must be host\[:port\]/)
})

test.run()
