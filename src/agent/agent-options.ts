/**
 * The options of `startAgent`: what they mean, their defaults, and their checks, read once at start so the
 * consumer loop only reads a frozen object.
 */
import { hostname } from 'node:os'
import type { ErrorHandler } from '../util/warn.js'
import { warningHandler } from '../util/warn.js'
import { OptionError, optionChecks, optionsObject, shown } from '../util/option-check.js'
import { resolveRedisTarget, type RedisTarget } from '../redis/target.js'
import type { Publisher } from './publisher.js'

/** Options of `startAgent`. */
export interface AgentOptions {
  /**
   * Redis URL (`redis://`, `rediss://`, `redis+cluster://h:p,h:p`, `redis+sentinel://h:p,h:p/<master>`). Default env
   * `ROUTEMETER_REDIS_URL`, else `redis://127.0.0.1:6379`.
   */
  redis?: string
  /** Stream key. Default `routemeter`. */
  stream?: string
  /** Consumer group. Default `routemeter`. */
  group?: string
  /**
   * This agent's name in the group; keep it stable across restarts so a restart resumes its own pending entries at
   * once. Default `<hostname>-<pid>`.
   */
  consumer?: string
  /** Where entries go; an entry is acked only after every publisher accepted it. At least one. */
  publishers: Publisher[]
  /** Entries per XREADGROUP. Default 100. */
  readCount?: number
  /** XREADGROUP BLOCK in ms; also bounds how long `stop()` waits for the current read. Default 1,000. */
  blockMs?: number
  /** An entry pending this long in another consumer's list is reclaimed (XAUTOCLAIM). Default 60,000. */
  claimIdleMs?: number
  /** How often to look for such entries. Default `min(claimIdleMs, 10,000)`. */
  claimIntervalMs?: number
  /**
   * Deliveries after which an entry is dead-lettered instead of published again. Default 5. Every attempt
   * that fails with anything but a transient PublishError counts as one delivery (recorded in Redis).
   */
  maxDeliveries?: number
  /** Dead-letter stream. Default `<stream>:dead`. */
  deadLetterStream?: string
  /** Retry backoff bounds for a failing publisher, in ms. Default 250 → 30,000. */
  retryMinMs?: number
  retryMaxMs?: number
  /**
   * `stop()` finishes in-flight work within this many ms, then abandons it (it stays pending); with the closing
   * (publishers, connections: 1 s at most) `stop()` resolves within this + 1 s. Default 10,000.
   */
  drainTimeoutMs?: number
  /**
   * Warnings (Redis unreachable, a publisher failing, entries dead-lettered) and the all-clear when a failing
   * publisher recovers. Messages start with `routemeter agent: `; secrets the agent sends are redacted.
   * Default: a `RouteMeterWarning` (code `RM_AGENT`, README: Warnings).
   */
  onError?: ErrorHandler
}

/** {@link AgentOptions} checked, with every default filled in. */
export interface ResolvedAgentOptions {
  readonly redis: RedisTarget
  readonly stream: string
  readonly group: string
  readonly consumer: string
  readonly deadLetterStream: string
  readonly publishers: readonly Publisher[]
  readonly readCount: number
  readonly blockMs: number
  readonly claimIdleMs: number
  readonly claimIntervalMs: number
  readonly maxDeliveries: number
  readonly retryMinMs: number
  readonly retryMaxMs: number
  readonly drainTimeoutMs: number
  readonly onError: ErrorHandler
}

const MAX = Number.MAX_SAFE_INTEGER

/**
 * Checks `options` and fills in the defaults. Throws an `OptionError` (a TypeError, owner `startAgent`)
 * naming the first bad option; the Redis URL and the publishers are never echoed (they may hold secrets).
 *
 * @example
 * const o = resolveAgentOptions({ publishers: [consolePublisher()] })
 * o.readCount // 100
 */
export function resolveAgentOptions(options: AgentOptions): ResolvedAgentOptions {
  const o = optionsObject<Partial<AgentOptions>>('startAgent', options)
  const check = optionChecks('startAgent')
  const redis = resolveRedisTarget(o.redis, 'redis', 'startAgent')
  const stream = check.string('stream', o.stream, 'routemeter')
  const claimIdleMs = check.integer('claimIdleMs', o.claimIdleMs, 60_000, 1, MAX)
  return Object.freeze({
    redis,
    stream,
    group: check.string('group', o.group, 'routemeter'),
    consumer: check.string('consumer', o.consumer, `${hostname()}-${process.pid}`),
    deadLetterStream: check.string('deadLetterStream', o.deadLetterStream, `${stream}:dead`),
    publishers: checkPublishers(o.publishers),
    readCount: check.integer('readCount', o.readCount, 100, 1, MAX),
    blockMs: check.integer('blockMs', o.blockMs, 1000, 1, MAX),
    claimIdleMs,
    claimIntervalMs: check.integer('claimIntervalMs', o.claimIntervalMs, Math.min(claimIdleMs, 10_000), 1, MAX),
    maxDeliveries: check.integer('maxDeliveries', o.maxDeliveries, 5, 1, MAX),
    retryMinMs: check.integer('retryMinMs', o.retryMinMs, 250, 1, MAX),
    retryMaxMs: check.integer('retryMaxMs', o.retryMaxMs, 30_000, 1, MAX),
    drainTimeoutMs: check.integer('drainTimeoutMs', o.drainTimeoutMs, 10_000, 1, MAX),
    onError: check.func<ErrorHandler>('onError', o.onError, 'a function (error) => void') ?? warningHandler('RM_AGENT'),
  })
}

function checkPublishers(publishers: unknown): readonly Publisher[] {
  const fail = (got: string): never => {
    const allowed = 'a non-empty array of publishers (objects with publish() and close())'
    throw new OptionError('startAgent', 'publishers', `must be ${allowed}, got ${got}`)
  }
  // Described, never serialised: a publisher object may hold its backend's token.
  if (!Array.isArray(publishers)) {
    return fail(publishers === undefined || publishers === null ? shown(publishers) : `a value of type ${typeof publishers}`)
  }
  if (publishers.length === 0) return fail('[]')
  const bad = publishers.findIndex((p: Partial<Publisher> | null) => typeof p?.publish !== 'function' || typeof p.close !== 'function')
  if (bad !== -1) fail(`an array whose element ${bad} is not one`)
  return Object.freeze([...publishers as Publisher[]])
}
