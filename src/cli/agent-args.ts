/**
 * Flags and environment of `routemeter agent`, turned into `startAgent` options. Flags win over the
 * environment, which wins over defaults. Any mistake is a {@link UsageError} with a message fit for a
 * human, printed by `main` with exit code 2.
 */
import type { AgentOptions } from '../agent/agent.js'
import type { Publisher } from '../agent/publisher.js'
import { influxPublisher } from '../agent/influx-publisher.js'
import { statsdPublisher } from '../agent/statsd-publisher.js'
import { consolePublisher } from '../agent/console-publisher.js'
import { prometheusPublisher } from '../agent/prometheus-publisher.js'
import { resolveRedisTarget } from '../redis/target.js'
import { parseFlags, UsageError } from './flags.js'
import type { ErrorHandler } from '../util/warn.js'
import { safeUrl } from '../util/redact.js'
import { OptionError } from '../util/option-check.js'

/**
 * A mistake in the command line or environment; `main` prints its message and exits 2.
 *
 * @example
 * throw new UsageError('--statsd must be HOST:PORT')
 */
/**
 * The text of `routemeter agent --help`.
 *
 * @example
 * process.stdout.write(AGENT_HELP)
 */
export const AGENT_HELP = `Usage: routemeter agent [options]

Moves metrics from the Redis stream that redisSink() writes to InfluxDB, StatsD, Prometheus and/or the console.
Any number of agents can share one stream: they form a Redis consumer group.

Redis:
  --redis URL            redis://[user:password@]host[:port][/db] or rediss://… (TLS);
                         Cluster: redis+cluster://[:password@]host:port,host:port
                         Sentinel: redis+sentinel://[:password@]host:26379,host:26379/<master>
                         env ROUTEMETER_REDIS_URL, default redis://127.0.0.1:6379
  --stream NAME          stream key; env ROUTEMETER_STREAM, default routemeter
  --group NAME           consumer group; env ROUTEMETER_GROUP, default routemeter
  --consumer NAME        this agent's name in the group, keep it stable across restarts;
                         env ROUTEMETER_CONSUMER, default <hostname>-<pid>

Publishers (at least one):
  --influx URL           InfluxDB base URL, e.g. http://127.0.0.1:8086; env ROUTEMETER_INFLUX_URL
  --influx-db NAME       InfluxDB 1.x database; env ROUTEMETER_INFLUX_DB
  --influx-org NAME      InfluxDB 2.x org;    env ROUTEMETER_INFLUX_ORG
  --influx-bucket NAME   InfluxDB 2.x bucket; env ROUTEMETER_INFLUX_BUCKET
  --influx-token TOKEN   InfluxDB 2.x token;  env ROUTEMETER_INFLUX_TOKEN (prefer the env: flags show in ps)
  --statsd HOST:PORT     StatsD server (UDP); env ROUTEMETER_STATSD
  --statsd-prefix NAME   prefix for StatsD names; env ROUTEMETER_PREFIX
  --statsd-tags          DogStatsD tags: method, status_class and the dimensions
  --statsd-status-code   with --statsd-tags: a status_code tag too
  --prometheus ADDR      serve /metrics for Prometheus at [HOST]:PORT: :9464 listens on all
                         interfaces, 127.0.0.1:9464 on loopback only; env ROUTEMETER_PROMETHEUS
  --prometheus-status-code
                         label request series with http_response_status_code too
  --console              print a per-route table of what passes through
  --json                 with --console: JSON lines instead of the table

Tuning:
  --status-interval S    seconds between status lines on stderr, 0 for none (default 5)
  --claim-idle-ms MS     reclaim entries idle this long in a dead agent's list (default 60000)
  --max-deliveries N     dead-letter an entry delivered this many times unacked (default 5)
  --drain-timeout-ms MS  on SIGINT/SIGTERM, finish in-flight work within this bound (default 10000)
  -v, --version          print the version
  -h, --help             show this help

Entries that cannot be decoded, that a backend refuses as malformed, or that keep failing
(--max-deliveries) go to <stream>:dead. A missing InfluxDB 1.x database is created.
`

// The longest delay setTimeout/setInterval take (2^31 - 1 ms, ≈ 24.8 days): Node fires a longer one after 1 ms,
// so a drain deadline past it exited at once and a status interval past it logged every millisecond.
const MAX_TIMER_MS = 2_147_483_647

/** What `routemeter agent` will run. */
export interface AgentCommand {
  readonly options: Omit<AgentOptions, 'publishers' | 'onError'>
  readonly publishers: Publisher[]
  /** One line per publisher, credentials redacted, for the startup message. */
  readonly describe: string[]
  readonly statusIntervalMs: number
  readonly help: boolean
  readonly version: boolean
  /**
   * A factory's {@link OptionError} as the usage error naming the flag (or environment variable) that set the
   * option; `undefined` for any other error. For what `startAgent` refuses when it is called.
   */
  optionError(error: unknown): UsageError | undefined
}

/**
 * The flag that sets each option the command passes to a factory, by factory (`OptionError.owner`) and option
 * (`OptionError.option`): a refused option is reported as what the user typed, never found by reading the
 * message. `HOST`/`PORT` name the part of an address flag. An option no flag sets is absent: its error is
 * the command's own mistake and is shown as the factory wrote it.
 */
const FLAG_OF: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  startAgent: {
    redis: '--redis', stream: '--stream', group: '--group', consumer: '--consumer',
    claimIdleMs: '--claim-idle-ms', maxDeliveries: '--max-deliveries', drainTimeoutMs: '--drain-timeout-ms',
  },
  influxPublisher: { url: '--influx', db: '--influx-db', org: '--influx-org', bucket: '--influx-bucket', token: '--influx-token' },
  statsdPublisher: {
    host: '--statsd HOST', port: '--statsd PORT', prefix: '--statsd-prefix', tags: '--statsd-tags', statusCode: '--statsd-status-code',
  },
  prometheusPublisher: { host: '--prometheus HOST', port: '--prometheus PORT', statusCode: '--prometheus-status-code' },
  consolePublisher: { json: '--json' },
}

/**
 * The flag that set `error`'s option, as the user typed it: `--influx-db`, or `--statsd HOST` for a part.
 *
 * @example
 * flagOf(new OptionError('influxPublisher', 'db', 'must be a non-empty string')) // '--influx-db'
 */
export function flagOf(error: OptionError): string | undefined {
  const flags = Object.hasOwn(FLAG_OF, error.owner) ? FLAG_OF[error.owner]! : undefined
  return flags !== undefined && Object.hasOwn(flags, error.option) ? flags[error.option] : undefined
}

/** What an OptionError says after naming its option (`must be …`): its message past the head its constructor wrote. */

/**
 * Parses `argv` (after `agent`) and `env`. Publishers are constructed here, so an option one refuses is a
 * usage error too, naming the flag that set it (see {@link flagOf}); `onError` receives the publishers' own
 * warnings (a database created).
 *
 * @example
 * const command = parseAgentArgs(['--influx', 'http://influx:8086', '--influx-db', 'metrics'], process.env, log)
 */
export function parseAgentArgs(argv: readonly string[], env: NodeJS.ProcessEnv, onError?: ErrorHandler): AgentCommand {
  const values = parseFlags(argv, {
    redis: { type: 'string' }, stream: { type: 'string' }, group: { type: 'string' }, consumer: { type: 'string' },
    influx: { type: 'string' }, 'influx-db': { type: 'string' }, 'influx-org': { type: 'string' },
    'influx-bucket': { type: 'string' }, 'influx-token': { type: 'string' },
    statsd: { type: 'string' }, 'statsd-prefix': { type: 'string' }, 'statsd-tags': { type: 'boolean' },
    'statsd-status-code': { type: 'boolean' },
    prometheus: { type: 'string' }, 'prometheus-status-code': { type: 'boolean' },
    console: { type: 'boolean' }, json: { type: 'boolean' },
    'status-interval': { type: 'string' }, 'claim-idle-ms': { type: 'string' }, 'max-deliveries': { type: 'string' },
    'drain-timeout-ms': { type: 'string' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' },
  })
  const empty = {
    options: {}, publishers: [], describe: [], statusIntervalMs: 0, help: false, version: false, optionError: () => undefined,
  }
  if (values.help === true) return { ...empty, help: true }
  if (values.version === true) return { ...empty, version: true }
  // Flags whose value came from the environment, with the variable: an error then names both.
  const fromEnv = new Map<string, string>()
  const pick = (flag: string, name: string): string | undefined => {
    const value = values[flag]
    if (typeof value === 'string') return value
    const text = env[name]
    if (text === undefined || text === '') return undefined
    fromEnv.set(`--${flag}`, name)
    return text
  }
  const optionError = (error: unknown): UsageError | undefined => {
    if (!(error instanceof OptionError)) return undefined
    const flag = flagOf(error)
    if (flag === undefined) return undefined
    const variable = fromEnv.get(flag.split(' ')[0]!)
    return new UsageError(`${flag}${variable === undefined ? '' : ` (from ${variable})`} ${error.reason}`)
  }
  const int = (flag: string, fallback: number, min: number, max: number): number => {
    const text = values[flag]
    if (text === undefined) return fallback
    const n = Number(text)
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new UsageError(`--${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`)
    }
    return n
  }

  const redis = pick('redis', 'ROUTEMETER_REDIS_URL')
  let safeRedis: string
  // Its safe form is the startup line's; a URL startAgent would refuse is refused here, before any publisher starts.
  try { safeRedis = resolveRedisTarget(redis, 'redis', 'startAgent').safe } catch (error) {
    throw optionError(error) ?? new UsageError(`--redis: ${(error as Error).message}`)
  }

  const publishers: Publisher[] = []
  const describe: string[] = []
  const build = (what: string, make: () => Publisher): void => {
    try { publishers.push(make()) } catch (error) {
      throw optionError(error) ?? new UsageError(`${what}: ${(error as Error).message}`)
    }
  }
  const influx = pick('influx', 'ROUTEMETER_INFLUX_URL')
  const db = pick('influx-db', 'ROUTEMETER_INFLUX_DB')
  const org = pick('influx-org', 'ROUTEMETER_INFLUX_ORG')
  const bucket = pick('influx-bucket', 'ROUTEMETER_INFLUX_BUCKET')
  const token = pick('influx-token', 'ROUTEMETER_INFLUX_TOKEN')
  if (influx !== undefined) {
    const v2 = org !== undefined || bucket !== undefined || token !== undefined
    if (!v2 && db === undefined) {
      throw new UsageError('--influx needs --influx-db (InfluxDB 1.x) or --influx-org, --influx-bucket and --influx-token (2.x)')
    }
    if (v2 && (org === undefined || bucket === undefined || token === undefined)) {
      throw new UsageError('InfluxDB 2.x needs all of --influx-org, --influx-bucket and --influx-token')
    }
    build('--influx', () => (v2
      ? influxPublisher({ url: influx, org: org as string, bucket: bucket as string, token: token as string })
      : influxPublisher({ url: influx, db: db as string, ...(onError === undefined ? {} : { onError }) })))
    describe.push(`influx ${safeInfluxUrl(influx)} ${v2 ? `org ${org} bucket ${bucket}` : `db ${db}`}`)
  } else if (db !== undefined || org !== undefined || bucket !== undefined) {
    throw new UsageError('--influx-db/--influx-org/--influx-bucket need --influx URL')
  }
  const statsd = pick('statsd', 'ROUTEMETER_STATSD')
  if (statsd !== undefined) {
    const match = /^(.+):(\d{1,5})$/.exec(statsd)
    const port = match === null ? NaN : Number(match[2])
    if (match === null || port < 1 || port > 65535) throw new UsageError(`--statsd must be HOST:PORT, got ${JSON.stringify(statsd)}`)
    const host = match[1].replace(/^\[(.*)\]$/, '$1')
    const prefix = pick('statsd-prefix', 'ROUTEMETER_PREFIX')
    const tags = values['statsd-tags'] === true
    const statusCode = values['statsd-status-code'] === true
    if (statusCode && !tags) throw new UsageError('--statsd-status-code only applies with --statsd-tags')
    build('--statsd', () => statsdPublisher({ host, port, prefix, tags, statusCode, ...(onError === undefined ? {} : { onError }) }))
    describe.push(`statsd ${statsd}${tags ? ' (tags)' : ''}`)
  }
  const prometheus = pick('prometheus', 'ROUTEMETER_PROMETHEUS')
  if (prometheus !== undefined) {
    // Go's listen-address spelling, as every Prometheus exporter takes it: `:9464` is all interfaces.
    const match = /^(.*):(\d{1,5})$/.exec(prometheus)
    const port = match === null ? NaN : Number(match[2])
    if (match === null || port > 65535) throw new UsageError(`--prometheus must be [HOST]:PORT, got ${JSON.stringify(prometheus)}`)
    const host = match[1] === '' ? undefined : match[1].replace(/^\[(.*)\]$/, '$1')
    const statusCode = values['prometheus-status-code'] === true
    build('--prometheus', () => prometheusPublisher({ host, port, statusCode, ...(onError === undefined ? {} : { onError }) }))
    describe.push(`prometheus http://${host === undefined ? '*' : match[1]}:${port}/metrics${statusCode ? ' (with status codes)' : ''}`)
  } else if (values['prometheus-status-code'] === true) {
    throw new UsageError('--prometheus-status-code only applies with --prometheus')
  }
  if (values.json === true && values.console !== true) throw new UsageError('--json only applies with --console')
  if (values.console === true) {
    build('--console', () => consolePublisher({ json: values.json === true }))
    describe.push(values.json === true ? 'console (JSON lines)' : 'console')
  }
  if (publishers.length === 0) {
    throw new UsageError('no publisher: give --influx, --statsd, --prometheus or --console (or their environment variables)')
  }

  const options: AgentCommand['options'] = {
    redis, stream: pick('stream', 'ROUTEMETER_STREAM'), group: pick('group', 'ROUTEMETER_GROUP'),
    consumer: pick('consumer', 'ROUTEMETER_CONSUMER'),
    claimIdleMs: int('claim-idle-ms', 60_000, 1, MAX_TIMER_MS), maxDeliveries: int('max-deliveries', 5, 1, 1_000_000),
    // main's last-resort exit timer fires 10 s after the drain deadline: that one must fit too.
    drainTimeoutMs: int('drain-timeout-ms', 10_000, 1, MAX_TIMER_MS - 10_000),
  }
  describe.unshift(`redis ${safeRedis}`)
  const statusIntervalMs = int('status-interval', 5, 0, Math.floor(MAX_TIMER_MS / 1000)) * 1000
  return { options, publishers, describe, statusIntervalMs, help: false, version: false, optionError }
}

/**
 * The InfluxDB URL for the startup line, its password masked as the publisher parsed it: safeUrl() reads the
 * text up to the first `@`, so `http://admin:p4@ss@influx:8086` showed `admin:***@ss@influx:8086`.
 */
function safeInfluxUrl(text: string): string {
  let url: URL
  try { url = new URL(text) } catch { return safeUrl(text) }
  if (url.password === '') return safeUrl(text)
  return `${url.protocol}//${url.username}:***@${url.host}${url.pathname === '/' ? '' : url.pathname}`
}
