/**
 * `influxPublisher`: writes aggregated series to InfluxDB as line protocol over HTTP (Node's global `fetch`), either the
 * v1 `/write?db=` API or the v2 `/api/v2/write?org=&bucket=` API. One request carries every entry the
 * agent read in one go (one point per series per entry), so a busy agent makes a few writes per second.
 *
 * Outcomes: 204 → accepted. 400/413/422 → the points themselves were refused: a permanent PublishError (the
 * agent retries entries one by one and dead-letters the bad one). Anything else (401/403/404/429, 5xx,
 * network, timeout) → transient: retried with backoff, since the data is fine and the server is not.
 */
import type { AgentEntry, Publisher } from './publisher.js'
import { PublishError } from './publisher.js'
import { entryTimestampNs, seriesToLines } from './influx-line.js'

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
}

/** InfluxDB 2.x (or 3.x / Cloud v2 API): org, bucket and an API token (`Authorization: Token …`). */
export interface InfluxV2Options {
  url: string
  org: string
  bucket: string
  token: string
  timeoutMs?: number
}

export type InfluxPublisherOptions = InfluxV1Options | InfluxV2Options

/**
 * A publisher writing to InfluxDB. Point identity is deterministic per stream entry (timestamp derived from
 * the entry id), so redelivery overwrites instead of duplicating: `SELECT sum("count") FROM "RequestTime"`
 * stays the exact number of requests.
 *
 * @example
 * startAgent({ publishers: [influxPublisher({ url: 'http://influx:8086', db: 'metrics' })] })
 * startAgent({ publishers: [influxPublisher({ url: 'https://eu-central-1-1.aws.cloud2.influxdata.com', org: 'acme', bucket: 'web', token: process.env.INFLUX_TOKEN! })] })
 */
export function influxPublisher(options: InfluxPublisherOptions): Publisher {
  if (options === null || typeof options !== 'object') throw new TypeError('routemeter: influxPublisher options must be an object')
  let base: URL
  try { base = new URL(String(options.url)) } catch { throw new TypeError('routemeter: influxPublisher `url` must be an http(s) URL') }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError('routemeter: influxPublisher `url` must be an http(s) URL')
  const timeoutMs = options.timeoutMs ?? 10_000
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new TypeError('routemeter: influxPublisher `timeoutMs` must be a positive integer')

  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' }
  const secrets: string[] = []
  let username = decodeURIComponent(base.username)
  let password = decodeURIComponent(base.password)
  base.username = ''
  base.password = ''
  const root = base.toString().replace(/\/+$/, '')
  let writeUrl: string
  if ('token' in options || 'org' in options || 'bucket' in options) {
    const v2 = options as InfluxV2Options
    for (const key of ['org', 'bucket', 'token'] as const) {
      if (typeof v2[key] !== 'string' || v2[key] === '') throw new TypeError(`routemeter: influxPublisher \`${key}\` must be a non-empty string (v2 needs org, bucket and token)`)
    }
    writeUrl = `${root}/api/v2/write?${new URLSearchParams({ org: v2.org, bucket: v2.bucket, precision: 'ns' })}`
    headers.authorization = `Token ${v2.token}`
    secrets.push(v2.token)
  } else {
    const v1 = options as InfluxV1Options
    if (typeof v1.db !== 'string' || v1.db === '') throw new TypeError('routemeter: influxPublisher `db` must be a non-empty string (or give org, bucket and token for v2)')
    const query = new URLSearchParams({ db: v1.db, precision: 'ns' })
    if (v1.rp !== undefined) query.set('rp', v1.rp)
    writeUrl = `${root}/write?${query}`
    if (v1.username !== undefined) username = v1.username
    if (v1.password !== undefined) password = v1.password
  }
  if (username !== '' || password !== '') {
    headers.authorization = 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64')
    if (password !== '') secrets.push(password)
  }
  const redact = (text: string): string => secrets.reduce((t, s) => t.split(s).join('***'), text)
  // Node's global fetch (undici inside Node, keep-alive by default) rather than undici as a dependency: the
  // agent makes a few large writes a second, so fetch's extra cost per call (tens of µs) is lost in the
  // write itself, and users install one package less. The drain rate into influxd is in the README.

  return {
    name: 'influx',
    async publish(entries: readonly AgentEntry[]) {
      let body = ''
      for (const entry of entries) {
        const lines = seriesToLines(entry.series(), entryTimestampNs(entry.id))
        if (lines === '') continue
        body += body === '' ? lines : '\n' + lines
      }
      if (body === '') return
      let status: number
      let text: string
      try {
        const res = await fetch(writeUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) })
        status = res.status
        text = status === 204 ? '' : (await res.text()).slice(0, 500)
        if (status === 204) await res.body?.cancel()
      } catch (error) {
        throw new PublishError(`influx write to ${root} failed: ${redact(error instanceof Error ? error.message : String(error))}`, { permanent: false, cause: error })
      }
      if (status >= 200 && status < 300) return
      const permanent = status === 400 || status === 413 || status === 422
      throw new PublishError(`influx write to ${root} answered ${status}: ${redact(text.trim())}`, { permanent })
    },
    async close() {},
  }
}
