/**
 * `influxPublisher`: writes aggregated series to InfluxDB as line protocol over HTTP (Node's global `fetch`), either the
 * v1 `/write?db=` API or the v2 `/api/v2/write?org=&bucket=` API. One request carries every entry the
 * agent read in one go (one point per series per entry), so a busy agent makes a few writes per second.
 *
 * Outcomes: 204 → accepted. 400/413/422, or an entry id with no InfluxDB timestamp → the points themselves
 * were refused: a permanent PublishError (the agent retries entries one by one and dead-letters the bad
 * one). 404 "database not found" (1.x) → the database is created and the write sent again; if it cannot
 * be, the error names the command that creates it. An answer Node cannot parse (influxd 1.x copies a
 * refused line, NUL bytes included, into its `X-Influxdb-Error` header) → an unknown failure, which the
 * agent counts toward `maxDeliveries`. Anything else (401/403/404/429, 5xx, network, timeout) → transient:
 * retried with backoff, since the data is fine and the server is not.
 *
 * Credentials never leave in a message: every error is redacted (password, base64 `user:password`,
 * token, in every spelling) before it is cut to length.
 */
import type { ErrorHandler } from '../util/warn.js'
import type { AgentEntry, Publisher } from './publisher.js'
import { PublishError } from './publisher.js'
import { entryTimestampNs, seriesToLines } from '../wire/influx-line.js'
import { createDatabase, createDatabaseHint } from './influx-database.js'
import { responseText } from './response-text.js'
import { basicAuthSecrets, redactor, secretForms } from '../util/redact.js'
import { warningHandler } from '../util/warn.js'
import { OptionError, optionChecks, optionsObject } from '../util/option-check.js'

/** InfluxDB 1.x: database (and optional retention policy, credentials). */
export interface InfluxV1Options {
  /** Base URL, e.g. `http://127.0.0.1:8086`. Credentials in the URL are sent as basic auth, never logged. */
  url: string
  db: string
  /** Retention policy; default the database's default. */
  rp?: string
  username?: string
  password?: string
  /** Per-write timeout in ms. Default 10,000. */
  timeoutMs?: number
  /**
   * Told when the publisher created the missing database (a typo in `db` would create a new one). Default: a
   * `RouteMeterWarning` (code `RM_AGENT_INFLUX`).
   */
  onError?: ErrorHandler
  /** Tag request series with the exact status code (`status=404`) besides `status_class`. Default false. */
  statusCode?: boolean
}

/** InfluxDB 2.x (or 3.x / Cloud v2 API): org, bucket and an API token (`Authorization: Token …`). */
export interface InfluxV2Options {
  url: string
  org: string
  bucket: string
  token: string
  timeoutMs?: number
  /** Tag request series with the exact status code (`status=404`) besides `status_class`. Default false. */
  statusCode?: boolean
}

export type InfluxPublisherOptions = InfluxV1Options | InfluxV2Options

/**
 * A publisher writing to InfluxDB. Point identity is deterministic per stream entry (timestamp derived from
 * the entry id), so redelivery overwrites instead of duplicating: `SELECT sum("count") FROM "RequestTime"`
 * stays the exact number of requests. Request series are tagged `status_class` (`2xx`…`5xx`, `aborted`),
 * and `status` too with `statusCode: true`; timers carry `p50`, `p90`, `p99` and their bucket counts.
 *
 * @example
 * startAgent({ publishers: [influxPublisher({ url: 'http://influx:8086', db: 'metrics' })] })
 * startAgent({
 *   publishers: [influxPublisher({
 *     url: 'https://eu-central-1-1.aws.cloud2.influxdata.com', org: 'acme', bucket: 'web', token: process.env.INFLUX_TOKEN!,
 *   })],
 * })
 */
export function influxPublisher(options: InfluxPublisherOptions): Publisher {
  const o = optionsObject<Partial<InfluxV1Options & InfluxV2Options>>('influxPublisher', options)
  const check = optionChecks('influxPublisher')
  // Never echoed: the URL may carry a password.
  const badUrl = (): never => { throw new OptionError('influxPublisher', 'url', 'must be an http(s) URL') }
  let base: URL
  try { base = new URL(String(o.url)) } catch { return badUrl() }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') badUrl()
  const timeoutMs = check.integer('timeoutMs', o.timeoutMs, 10_000, 1, 2 ** 31 - 1) // a longer AbortSignal.timeout fires at once
  const lineOptions = { statusCode: check.boolean('statusCode', o.statusCode, false) }
  const hook = check.func<ErrorHandler>('onError', o.onError, 'a function (error) => void')

  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' }
  const secrets: string[] = []
  let v1db: string | undefined
  let missingHint: string
  let username = decodeURIComponent(base.username)
  let password = decodeURIComponent(base.password)
  base.username = ''
  base.password = ''
  const root = base.toString().replace(/\/+$/, '')
  let writeUrl: string
  if ('token' in o || 'org' in o || 'bucket' in o) {
    const v2 = o as InfluxV2Options
    for (const key of ['org', 'bucket', 'token'] as const) {
      const value: unknown = v2[key]
      if (typeof value === 'string' && value !== '') continue
      const allowed = 'a non-empty string (v2 needs org, bucket and token)'
      // The token is a secret: not shown, only what kind of value it was.
      if (key === 'token') throw new OptionError('influxPublisher', key, `must be ${allowed}, got ${value === '' ? '""' : typeof value}`)
      check.fail(key, allowed, value)
    }
    writeUrl = `${root}/api/v2/write?${new URLSearchParams({ org: v2.org, bucket: v2.bucket, precision: 'ns' })}`
    headers.authorization = `Token ${v2.token}`
    secrets.push(...secretForms(v2.token))
    missingHint = `create the bucket: influx bucket create --org ${JSON.stringify(v2.org)} --name ${JSON.stringify(v2.bucket)}`
  } else {
    const v1 = o as InfluxV1Options
    if (typeof v1.db !== 'string' || v1.db === '') check.fail('db', 'a non-empty string (or give org, bucket and token for v2)', v1.db)
    const query = new URLSearchParams({ db: v1.db, precision: 'ns' })
    if (v1.rp !== undefined) query.set('rp', check.string('rp', v1.rp, '', { empty: true }))
    writeUrl = `${root}/write?${query}`
    username = check.string('username', v1.username, username, { empty: true })
    if (v1.password !== undefined && typeof v1.password !== 'string') {
      throw new OptionError('influxPublisher', 'password', `must be a string, got ${typeof v1.password}`)
    }
    password = v1.password ?? password
    v1db = v1.db
    missingHint = createDatabaseHint(root, v1.db)
  }
  if (username !== '' || password !== '') {
    headers.authorization = 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64')
    secrets.push(...basicAuthSecrets(username, password))
  }
  const redact = redactor(secrets)
  const onError: ErrorHandler = hook ?? warningHandler('RM_AGENT_INFLUX')
  // Node's global fetch (undici inside Node, keep-alive by default) rather than undici as a dependency: the
  // agent makes a few large writes a second, so fetch's extra cost per call (tens of µs) is lost in the
  // write itself, and users install one package less. The drain rate into influxd is in the README.

  /** One write; resolves on 2xx. `mayCreate`: a 404 for a missing 1.x database creates it, once per call. */
  const write = async (body: string, mayCreate: boolean): Promise<void> => {
    let status: number
    let text: string
    try {
      const res = await fetch(writeUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) })
      status = res.status
      // Redacted before it is cut to 500 characters: a cut through a secret hides it from redaction. Read up to
      // 64 KB only: a hostile or broken backend's body can be any size.
      text = status === 204 ? '' : redact((await responseText(res)).trim()).slice(0, 500)
      if (status === 204) await res.body?.cancel()
    } catch (error) {
      const cause = (error as { cause?: { name?: unknown, code?: unknown, message?: unknown } } | undefined)?.cause
      // fetch says only "fetch failed"; the cause says why (ECONNREFUSED, a timeout, a parser error).
      const why = typeof cause?.message === 'string' ? ` (${cause.message})` : ''
      const reason = redact(`${error instanceof Error ? error.message : String(error)}${why}`)
      // Not a PublishError on purpose: the server answered, with something unreadable, so neither an outage
      // nor bad data is known. The agent's rule for unknown failures applies: retried, counted, dead-lettered.
      // Node's own undici sets `code: 'HPE_…'`; the undici package (when an app installs it as the global
      // dispatcher) leaves `code` undefined, so the class name is checked too.
      if (cause?.name === 'HTTPParserError' || (typeof cause?.code === 'string' && cause.code.startsWith('HPE_'))) {
        throw new Error(`influx write to ${root}: unreadable answer: ${reason}`, { cause: error })
      }
      throw new PublishError(`influx write to ${root} failed: ${reason}`, { permanent: false, cause: error })
    }
    if (status >= 200 && status < 300) return
    if (status === 404 && /database not found/.test(text) && v1db !== undefined) {
      if (mayCreate) {
        const failure = await createDatabase(root, headers, v1db, timeoutMs)
        if (failure === undefined) {
          const notice = new Error(`routemeter influx: database ${JSON.stringify(v1db)} did not exist; created it`)
          try { onError(notice) } catch { /* hook must not throw into us */ }
          return await write(body, false)
        }
        const why = redact(failure).slice(0, 300)
        throw new PublishError(`influx: database ${JSON.stringify(v1db)} does not exist at ${root} and could not be created (${why}); ` +
          `create it as an admin: ${missingHint}`, { permanent: false })
      }
    }
    if (status === 404 && /bucket .*not found/.test(text) && v1db === undefined) {
      throw new PublishError(`influx write to ${root} answered 404: ${text}; ${missingHint}`, { permanent: false })
    }
    const permanent = status === 400 || status === 413 || status === 422
    throw new PublishError(`influx write to ${root} answered ${status}: ${text}`, { permanent })
  }

  return {
    name: 'influx',
    redact,
    async publish(entries: readonly AgentEntry[]) {
      let body = ''
      for (const entry of entries) {
        const timestamp = entryTimestampNs(entry.id)
        if (timestamp === undefined) {
          // The id, not the data, is the problem, and it cannot change: refused. Later `*` ids share the bad
          // millisecond, so they are refused too, each dead-lettered with its data intact.
          const why = 'past the year 2262, or a sequence ≥ 10^6; an XADD with an explicit id moves the stream\'s last id, ' +
            'and later entries share its millisecond'
          throw new PublishError(`refused: no InfluxDB timestamp for this entry id (${why}): ${entry.id}`, { permanent: true })
        }
        const lines = seriesToLines(entry.series(), timestamp, { ...lineOptions, stream: entry.stream })
        if (lines === '') continue
        body += body === '' ? lines : '\n' + lines
      }
      if (body === '') return
      await write(body, true)
    },
    async close() {},
  }
}
