/**
 * Flags and environment of `routemeter top`. Flags win over the environment, which wins over defaults; the
 * Redis, stream and group settings are the agent's own (same flags, same variables), so one environment
 * serves both. A mistake is a {@link UsageError} naming the flag, printed by the command with exit code 2.
 */
import { resolveRedisTarget, type RedisTarget } from '../redis/target.js'
import { parseFlags, UsageError } from './flags.js'
import { OptionError } from '../util/option-check.js'
import { SORT_KEYS, type SortKey } from '../top/snapshot.js'

/**
 * The text of `routemeter top --help`.
 *
 * @example
 * process.stdout.write(TOP_HELP)
 */
export const TOP_HELP = `Usage: routemeter top [options]

A live per-route view of the apps writing to the Redis stream: requests/s, p50 and p99 RequestTime,
CpuTime per request and share, Failure %, ClientError % and Aborted % over a sliding window, redrawn
every second. It reads with XREAD and leaves the agents' consumer group alone, so any number of tops
can run beside the agents.

Options:
  --redis URL      redis://[user:password@]host[:port][/db], rediss://… (TLS), redis+cluster://…,
                   redis+sentinel://…/<master>; env ROUTEMETER_REDIS_URL, default redis://127.0.0.1:6379
  --stream NAME    stream key; env ROUTEMETER_STREAM, default routemeter
  --group NAME     the agents' consumer group, whose lag the header shows; env ROUTEMETER_GROUP,
                   default routemeter
  --window LENGTH  the window rates and percentiles are taken over: 5s to 15m, e.g. 10s, 1m, 5m
                   (default 1m)
  --sort KEY       rps, p99, cpu or errors (default rps)
  --once           print one snapshot of the window as a table and exit (what
                   top does by itself when stdout is not a terminal)
  --json           with --once: the snapshot as one JSON object
  -h, --help       show this help

Keys: s cycles the sort, / filters routes, q quits.
Colour unless NO_COLOR is set or the output is not a terminal.
`

/** What `routemeter top` will do: print the help, or read a stream. */
export type TopCommand = { readonly help: true } | TopRun

/** Reading a stream: live, or `--once`. */
export interface TopRun {
  readonly help: false
  readonly target: RedisTarget
  readonly stream: string
  readonly group: string
  readonly windowMs: number
  readonly sort: SortKey
  readonly once: boolean
  readonly json: boolean
}

/** The shortest and longest `--window`, s. */
const WINDOW_MIN_S = 5
const WINDOW_MAX_S = 15 * 60

/**
 * A `--window` value in ms: `<n>s` or `<n>m`, from 5 s to 15 min; `undefined` for anything else.
 *
 * @example
 * parseWindow('90s') // 90_000
 * parseWindow('1h')  // undefined
 */
export function parseWindow(text: string): number | undefined {
  const found = /^(\d{1,6})(s|m)$/.exec(text)
  if (found === null) return undefined
  const seconds = Number(found[1]) * (found[2] === 'm' ? 60 : 1)
  return seconds >= WINDOW_MIN_S && seconds <= WINDOW_MAX_S ? seconds * 1000 : undefined
}

/**
 * Parses `argv` (after `top`) and `env`.
 *
 * @example
 * const command = parseTopArgs(['--window', '10s', '--sort', 'p99'], process.env)
 */
export function parseTopArgs(argv: readonly string[], env: NodeJS.ProcessEnv): TopCommand {
  const values = parseFlags(argv, {
    redis: { type: 'string' }, stream: { type: 'string' }, group: { type: 'string' }, window: { type: 'string' },
    sort: { type: 'string' }, once: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  })
  if (values.help === true) return { help: true }
  const pick = (flag: string, variable: string): { value: string | undefined, from: string } => {
    const value = values[flag]
    if (typeof value === 'string') return { value, from: `--${flag}` }
    const text = env[variable]
    if (text === undefined || text === '') return { value: undefined, from: `--${flag}` }
    return { value: text, from: `--${flag} (from ${variable})` }
  }
  const name = (flag: string, variable: string): string => {
    const { value, from } = pick(flag, variable)
    if (value === undefined) return 'routemeter'
    if (value.trim() === '') throw new UsageError(`${from} must be a non-empty name, got ${JSON.stringify(value)}`)
    return value
  }

  const redis = pick('redis', 'ROUTEMETER_REDIS_URL')
  let target: RedisTarget
  try { target = resolveRedisTarget(redis.value, 'redis', 'routemeter top') } catch (error) {
    // The reason never echoes the URL: it may hold a password.
    throw new UsageError(`${redis.from} ${error instanceof OptionError ? error.reason : (error as Error).message}`)
  }
  const stream = name('stream', 'ROUTEMETER_STREAM')
  const group = name('group', 'ROUTEMETER_GROUP')

  const windowText = typeof values.window === 'string' ? values.window : '1m'
  const windowMs = parseWindow(windowText)
  if (windowMs === undefined) {
    throw new UsageError(`--window must be <n>s or <n>m from 5s to 15m (10s, 1m, 5m), got ${JSON.stringify(windowText)}`)
  }
  const sortText = typeof values.sort === 'string' ? values.sort : 'rps'
  if (!(SORT_KEYS as readonly string[]).includes(sortText)) {
    throw new UsageError(`--sort must be one of ${SORT_KEYS.join(', ')}, got ${JSON.stringify(sortText)}`)
  }
  const once = values.once === true
  const json = values.json === true
  if (json && !once) throw new UsageError('--json only applies with --once')
  return { help: false, target, stream, group, windowMs, sort: sortText as SortKey, once, json }
}
