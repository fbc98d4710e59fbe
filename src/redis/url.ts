/**
 * Redis URL handling shared by the sink and the agent: the default (`ROUTEMETER_REDIS_URL`, else Kadabra's
 * `redis://127.0.0.1:6379`), validation at construction, and redaction so a password never reaches a log
 * line or an error message.
 */

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
  /** Removes the password (raw and URL-encoded) from any text, e.g. an error message from the client. */
  redact(text: string): string
}

/**
 * Validates `url` (option name `option` for the TypeError), falling back to `ROUTEMETER_REDIS_URL` and
 * then {@link DEFAULT_REDIS_URL}.
 *
 * @example
 * const { href, safe } = resolveRedisUrl(options.url, 'url') // safe: 'redis://:***@cache:6379'
 */
export function resolveRedisUrl(url: unknown, option: string): RedisUrl {
  const env = process.env.ROUTEMETER_REDIS_URL
  const href = url ?? (env !== undefined && env !== '' ? env : DEFAULT_REDIS_URL)
  if (typeof href !== 'string') throw new TypeError(`routemeter: \`${option}\` must be a redis:// or rediss:// URL string`)
  let parsed: URL
  try { parsed = new URL(href) } catch {
    // The text is not echoed: it may hold a password we cannot find without parsing.
    throw new TypeError(`routemeter: \`${option}\` is not a valid URL (expected redis://[user:password@]host[:port][/db] or rediss://…)`)
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(`routemeter: \`${option}\` must use redis:// or rediss://, got ${parsed.protocol}//`)
  }
  const secrets = new Set<string>()
  if (parsed.password !== '') {
    secrets.add(parsed.password)
    try { secrets.add(decodeURIComponent(parsed.password)) } catch { /* keep the encoded form only */ }
    parsed.password = '***'
  }
  const safe = parsed.toString()
  const redact = (text: string): string => {
    let out = text
    for (const secret of secrets) out = out.split(secret).join('***')
    return out
  }
  return { href, safe, redact }
}
