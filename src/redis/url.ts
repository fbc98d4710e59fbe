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
  /** The URL's parts, decoded, as a client without a URL parser needs them. */
  readonly server: RedisServer
}

/** One Redis server as the URL names it: where, whether over TLS, who, and which database. */
export interface RedisServer {
  /** A host name or an IP address (an IPv6 one without its brackets). */
  readonly host: string
  /** 6379 unless the URL says otherwise, for `rediss://` too. */
  readonly port: number
  readonly tls: boolean
  readonly username?: string
  readonly password?: string
  /** The URL's path (`/2`); 0 without one. */
  readonly db: number
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
  const db = /^\/?$/.test(parsed.pathname) ? 0 : /^\/\d{1,9}$/.test(parsed.pathname) ? Number(parsed.pathname.slice(1)) : -1
  if (db < 0) throw new OptionError(owner, option, 'must name the database as a number, if at all: redis://host:6379/2')
  let server: RedisServer
  try {
    server = {
      // No host (`redis://:pw@/1`) is the local one, as for node-redis.
      host: parsed.hostname === '' ? 'localhost' : parsed.hostname.replace(/^\[([0-9a-fA-F:.]+)\]$/, '$1'),
      port: parsed.port === '' ? 6379 : Number(parsed.port),
      tls: parsed.protocol === 'rediss:',
      ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
      ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
      db,
    }
  } catch {
    throw new OptionError(owner, option, 'has malformed percent-encoding in its credentials (the URL is not shown: it may hold a password)')
  }
  // The password as the URL parser read it (up to the last `@` of the authority, re-encoded: what the client
  // sends) and as written in the text: a server echoing AUTH shows the one, a stack trace may show the other.
  const secrets = urlSecrets(href)
  if (parsed.password !== '') {
    secrets.push(...secretForms(parsed.password))
    try { secrets.push(...secretForms(decodeURIComponent(parsed.password))) } catch { /* the encoded form is all there is */ }
    parsed.password = '***'
  }
  return { href, safe: parsed.toString(), redact: redactor(secrets), server }
}
