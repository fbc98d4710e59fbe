/** `parseAgentArgs` without a process: the publishers a command line builds, used for real. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { flagOf, parseAgentArgs } from '../../src/cli/agent-args.js'
import { UsageError } from '../../src/cli/flags.js'
import { startAgent } from '../../src/agent/agent.js'
import { OptionError } from '../../src/util/option-check.js'
import { entryOf } from '../support/entries.js'
import { udpCollector } from '../support/udp.js'

const record = (status: number): MetricRecord => ({
  kind: 'request', prefix: '', route: 'users.id', method: 'GET', status, aborted: false,
  dimensions: {}, counters: { Failure: 0 }, timers: { RequestTime: 2 }, timestamp: 1763798400000,
})

test('--statsd-tags and --statsd-status-code reach the StatsD publisher: lines carry status_class and status_code', async () => {
  const udp = await udpCollector()
  try {
    const parsed = parseAgentArgs(['--statsd', `127.0.0.1:${udp.port}`, '--statsd-tags', '--statsd-status-code'], {})
    assert.ok(parsed.describe.includes(`statsd 127.0.0.1:${udp.port} (tags)`), parsed.describe.join(', '))
    await parsed.publishers[0]!.publish([entryOf('1-0', [record(404)])])
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
    await parsed.publishers[0]!.publish([entryOf('1-0', [record(200)])])
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

/** The message of the UsageError `parse` throws; fails the test if it throws anything else, or nothing. */
function usageMessage(parse: () => unknown): string {
  try { parse() } catch (error) {
    assert.instance(error, UsageError)
    return (error as UsageError).message
  }
  return assert.unreachable('no usage error') as never
}

test('a value a publisher refuses is a usage error naming the flag that set it, from the OptionError\'s owner and option', () => {
  const cases: Array<[string[], string]> = [
    [['--influx', 'ftp://x', '--influx-db', 'm'], '--influx must be an http(s) URL'],
    [['--influx', 'http://127.0.0.1:8086', '--influx-db', ''],
      '--influx-db must be a non-empty string (or give org, bucket and token for v2), got ""'],
    [['--influx', 'http://127.0.0.1:8086', '--influx-org', 'o', '--influx-bucket', 'b', '--influx-token', ''],
      '--influx-token must be a non-empty string (v2 needs org, bucket and token), got ""'],
    [['--statsd', '[]:8125'], '--statsd HOST must be a non-empty string, got ""'],
    [['--prometheus', '[]:9464'], '--prometheus HOST must be a non-empty string, got ""'],
    [['--console', '--redis', 'mysql://u:hunter2@x'], '--redis must use redis:// or rediss://, got mysql://'],
  ]
  for (const [argv, message] of cases) assert.is(usageMessage(() => parseAgentArgs(argv, {})), message, argv.join(' '))
})

test('a refused value taken from the environment names the variable as well as the flag', () => {
  assert.is(usageMessage(() => parseAgentArgs(['--influx-db', 'm'], { ROUTEMETER_INFLUX_URL: 'ftp://x' })),
    '--influx (from ROUTEMETER_INFLUX_URL) must be an http(s) URL')
  assert.is(usageMessage(() => parseAgentArgs(['--console'], { ROUTEMETER_REDIS_URL: 'mysql://x' })),
    '--redis (from ROUTEMETER_REDIS_URL) must use redis:// or rediss://, got mysql://')
})

test('an option startAgent refuses is named by its flag too (--stream \'\')', async () => {
  const parsed = parseAgentArgs(['--console', '--stream', ''], {})
  let refused: unknown
  try { startAgent({ ...parsed.options, publishers: parsed.publishers }) } catch (error) { refused = error }
  assert.instance(refused, OptionError)
  assert.is(parsed.optionError(refused)?.message, '--stream must be a non-empty string, got ""')
  await Promise.all(parsed.publishers.map(async (p) => await p.close()))
})

test('the flag table: every factory\'s options the command sets, and nothing for options no flag sets or other errors', () => {
  const flags: Array<[string, string, string | undefined]> = [
    ['startAgent', 'redis', '--redis'], ['startAgent', 'group', '--group'], ['startAgent', 'consumer', '--consumer'],
    ['startAgent', 'maxDeliveries', '--max-deliveries'], ['startAgent', 'claimIdleMs', '--claim-idle-ms'],
    ['startAgent', 'drainTimeoutMs', '--drain-timeout-ms'], ['influxPublisher', 'bucket', '--influx-bucket'],
    ['statsdPublisher', 'port', '--statsd PORT'], ['statsdPublisher', 'prefix', '--statsd-prefix'],
    ['prometheusPublisher', 'statusCode', '--prometheus-status-code'], ['consolePublisher', 'json', '--json'],
    ['startAgent', 'readCount', undefined], ['redisSink', 'redis', undefined], ['influxPublisher', 'toString', undefined],
    ['constructor', 'name', undefined],
  ]
  for (const [owner, option, flag] of flags) assert.is(flagOf(new OptionError(owner, option, 'must be x')), flag, `${owner} ${option}`)
  const parsed = parseAgentArgs(['--console'], {})
  assert.is(parsed.optionError(new OptionError('consolePublisher', 'json', 'must be true or false, got 1'))?.message,
    '--json must be true or false, got 1')
  assert.is(parsed.optionError(new OptionError('startAgent', 'readCount', 'must be an integer of at least 1, got 0')), undefined)
  assert.is(parsed.optionError(new TypeError('routemeter: startAgent option "stream" must be a non-empty string')), undefined)
})

test('the startup description masks an InfluxDB password whole, even with an unescaped @ in it', () => {
  const { describe } = parseAgentArgs(['--influx', 'http://admin:p4@ssw0rd@127.0.0.1:8086', '--influx-db', 'm'], {})
  assert.is(describe[1], 'influx http://admin:***@127.0.0.1:8086 db m')
  const plain = parseAgentArgs(['--influx', 'http://admin:pw@127.0.0.1:8086/base', '--influx-db', 'm'], {})
  assert.is(plain.describe[1], 'influx http://admin:***@127.0.0.1:8086/base db m')
})

test.run()
