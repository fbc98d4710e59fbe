/** `parseAgentArgs` without a process: the publishers a command line builds, used for real. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { agentEntry } from '../../src/agent/aggregate.js'
import type { MetricRecord } from '../../src/wire/record.js'
import { parseAgentArgs, UsageError } from '../../src/cli/agent-args.js'
import { decodeEntry, encodeBatch } from '../../src/wire/stream-encoding.js'
import { udpCollector } from '../support/udp.js'

const record = (status: number): MetricRecord => ({
  kind: 'request', prefix: '', route: 'users.id', method: 'GET', status, aborted: false,
  dimensions: {}, counters: { Failure: 0 }, timers: { RequestTime: 2 }, timestamp: 1763798400000,
})

test('--statsd-tags and --statsd-status-code reach the StatsD publisher: lines carry status_class and status_code', async () => {
  const udp = await udpCollector()
  try {
    const parsed = parseAgentArgs(['--statsd', `127.0.0.1:${udp.port}`, '--statsd-tags', '--statsd-status-code'], {})
    assert.ok(parsed.describe.includes(`statsd 127.0.0.1:${udp.port} (tags)`), parsed.describe.join(", "))
    const [e] = encodeBatch([record(404)]).entries
    await parsed.publishers[0]!.publish([agentEntry('1-0', decodeEntry(e!.v, e!.p))])
    await parsed.publishers[0]!.close()
    await udp.waitFor((lines) => lines.some((l) => l.startsWith('users.id.RequestTime:')))
    const line = udp.lines.find((l) => l.startsWith('users.id.RequestTime:'))!
    assert.match(line, /\|#method:GET,status_class:4xx,status_code:404/)
  } finally {
    udp.close()
  }
})

test('without --statsd-tags the lines carry no tags, and --statsd-status-code alone is a usage error', async () => {
  const udp = await udpCollector()
  try {
    const parsed = parseAgentArgs(['--statsd', `127.0.0.1:${udp.port}`], {})
    const [e] = encodeBatch([record(200)]).entries
    await parsed.publishers[0]!.publish([agentEntry('1-0', decodeEntry(e!.v, e!.p))])
    await parsed.publishers[0]!.close()
    await udp.waitFor((lines) => lines.some((l) => l.startsWith('users.id.RequestTime:')))
    assert.not.match(udp.lines.join('\n'), /#/)
  } finally {
    udp.close()
  }
  assert.throws(() => parseAgentArgs(['--statsd', '127.0.0.1:8125', '--statsd-status-code'], {}),
    (e: Error) => e instanceof UsageError && /--statsd-status-code only applies with --statsd-tags/.test(e.message))
})

test('durations past a timer\'s limit (2^31 - 1 ms) are usage errors, since Node would fire them after 1 ms', () => {
  const bads = [
    ['--drain-timeout-ms', '3000000000'], ['--claim-idle-ms', '2147483648'], ['--status-interval', '2147484'],
    ['--max-deliveries', '0'], ['--drain-timeout-ms', '1.5'], ['--claim-idle-ms', ''],
  ]
  for (const [flag, value] of bads) {
    assert.throws(() => parseAgentArgs(['--console', flag, value], {}),
      (e: Error) => e instanceof UsageError && e.message.startsWith(`${flag} must be an integer from`), `${flag} ${value}`)
  }
  const ok = parseAgentArgs(['--console', '--drain-timeout-ms', '60000', '--status-interval', '2147483'], {})
  assert.is(ok.options.drainTimeoutMs, 60_000)
  assert.is(ok.statusIntervalMs, 2_147_483_000)
})

test('the startup description masks an InfluxDB password whole, even with an unescaped @ in it', () => {
  const { describe } = parseAgentArgs(['--influx', 'http://admin:p4@ssw0rd@127.0.0.1:8086', '--influx-db', 'm'], {})
  assert.is(describe[1], 'influx http://admin:***@127.0.0.1:8086 db m')
  const plain = parseAgentArgs(['--influx', 'http://admin:pw@127.0.0.1:8086/base', '--influx-db', 'm'], {})
  assert.is(plain.describe[1], 'influx http://admin:***@127.0.0.1:8086/base db m')
})

test.run()
