/**
 * Redis URL handling shared by the sink and the agent: the default (`ROUTEMETER_REDIS_URL`, else Kadabra's
 * `redis://127.0.0.1:6379`), validation at construction, and redaction so a password never reaches a log
 * line or an error message.
 */
import { OptionError, shown } from '../util/option-check.js'
import { redactor, secretForms, urlSecrets, type Redact } from '../util/redact.js'

/**
 * The URL used when none is given.
 *
 * @example
 * createClient({ url: process.env.ROUTEMETER_REDIS_URL || DEFAULT_REDIS_URL })
 */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'

/** A validated Redis URL with its printable (password-free) form. */
export interface RedisUrl {
  /** The URL as given, credentials included: only ever handed to the client. */
  readonly href: string
  /** `redis://user:***@host:port/db`, safe for logs and errors. */
  readonly safe: string
  /** Removes the password, in every spelling (raw, percent-encoded, JSON-escaped…), from any text. */
  readonly redact: Redact
}

/**
 * The URL to use: `url` when given, else `ROUTEMETER_REDIS_URL` when set and not empty, else
 * {@link DEFAULT_REDIS_URL}. Not validated.
 *
 * @example
 * redisUrlText(options.url) // 'redis://127.0.0.1:6379' with neither given
 */
export function redisUrlText(url: unknown): unknown {
  const env = process.env.ROUTEMETER_REDIS_URL
  return url ?? (env !== undefined && env !== '' ? env : DEFAULT_REDIS_URL)
}

/**
 * Validates a `redis://` or `rediss://` URL (`url`, else the environment's, else the default), throwing an
 * {@link OptionError} for option `option` of factory `owner` that never echoes the URL.
 *
 * @example
 * const { href, safe } = resolveRedisUrl(options.url, 'url', 'redisSink') // safe: 'redis://:***@cache:6379'
 */
export function resolveRedisUrl(url: unknown, option: string, owner = ''): RedisUrl {
  const href = redisUrlText(url)
  const expected = 'a redis://[user:password@]host[:port][/db] or rediss://… URL'
  if (typeof href !== 'string') {
    // A number shows as itself; an object only by its type: a URL object serialises with its password.
    const got = typeof href === 'number' || typeof href === 'boolean' || href === null ? shown(href) : `a value of type ${typeof href}`
    throw new OptionError(owner, option, `must be ${expected}, got ${got}`)
  }
  let parsed: URL
  try { parsed = new URL(href) } catch {
    throw new OptionError(owner, option, `must be ${expected} (the text given is not shown: it may hold a password)`)
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new OptionError(owner, option, `must use redis:// or rediss://, got ${parsed.protocol}//`)
  }
  // The password as the URL parser read it (up to the last `@` of the authority, re-encoded: what the client
  // sends) and as written in the text: a server echoing AUTH shows the one, a stack trace may show the other.
  const secrets = urlSecrets(href)
  if (parsed.password !== '') {
    secrets.push(...secretForms(parsed.password))
    try { secrets.push(...secretForms(decodeURIComponent(parsed.password))) } catch { /* the encoded form is all there is */ }
    parsed.password = '***'
  }
  return { href, safe: parsed.toString(), redact: redactor(secrets) }
}
