/**
 * A missing InfluxDB 1.x database: created by the publisher when the credentials allow it, otherwise named
 * with the exact command that creates it. Without this a fresh install retried a 404 forever, and the log
 * said only "database not found".
 */
import { responseText } from './response-text.js'

/**
 * `CREATE DATABASE "<db>"`, the name quoted as an InfluxQL identifier (`\` and `"` escaped).
 *
 * @example
 * createDatabaseStatement('metrics') // 'CREATE DATABASE "metrics"'
 */
export function createDatabaseStatement(db: string): string {
  return `CREATE DATABASE "${db.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/**
 * The shell command an admin runs to create `db` on the server at `root` (the `influx` CLI of 1.x), and
 * the same over HTTP for hosts without it.
 *
 * @example
 * createDatabaseHint('http://influx:8086', 'metrics')
 * // `influx -host influx -port 8086 -execute 'CREATE DATABASE "metrics"'` (or: curl …)
 */
export function createDatabaseHint(root: string, db: string): string {
  const url = new URL(root)
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80'
  const statement = createDatabaseStatement(db)
  const ssl = url.protocol === 'https:' ? ' -ssl' : ''
  return `influx -host ${shellQuote(url.hostname)} -port ${port}${ssl} -execute ${shellQuote(statement)}` +
    ` (or: curl -XPOST ${shellQuote(`${root}/query`)} --data-urlencode ${shellQuote(`q=${statement}`)})`
}

/**
 * Creates `db` with `POST /query`. Resolves with `undefined` on success, or with why it failed (the
 * server's words, e.g. "requires admin privilege"), never rejects.
 *
 * @example
 * const failure = await createDatabase(root, headers, 'metrics', 10_000)
 */
export async function createDatabase(
  root: string, headers: Record<string, string>, db: string, timeoutMs: number,
): Promise<string | undefined> {
  try {
    const res = await fetch(`${root}/query`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ q: createDatabaseStatement(db) }).toString(),
      signal: AbortSignal.timeout(timeoutMs),
    })
    const text = await responseText(res)
    // influxd answers 200 with {"results":[{"error":…}]} for a statement it refused, so both are checked.
    let error: string | undefined
    try {
      const parsed = JSON.parse(text) as { error?: string, results?: Array<{ error?: string }> }
      error = parsed.error ?? parsed.results?.[0]?.error
    } catch { /* not JSON: the text itself is the reason */ }
    if (res.status === 200 && error === undefined) return undefined
    return `${res.status}: ${error ?? text.trim()}`
  } catch (thrown) {
    return thrown instanceof Error ? thrown.message : String(thrown)
  }
}

function shellQuote(text: string): string {
  return /^[\w.:/@%+=-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`
}
