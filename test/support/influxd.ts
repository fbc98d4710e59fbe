/**
 * A private InfluxDB 1.x (`influxd`, Debian package `influxdb`) for one test file: temp meta/data/wal
 * dirs, HTTP on a free loopback port, the RPC bind address moved off 8088 so parallel suites and a system
 * influxd never collide, reporting disabled. `influxSuite` is the setup every suite writing to it shares.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { startRedis, type RedisServer } from './redis-server.js'
import {
  freePort, INFLUXD, lateBound, REDIS, ServiceExited, serviceSuite, stopChild, trackChild, untilServing, type ServiceSuite,
} from './services.js'

export interface Influxd {
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** Runs an InfluxQL statement (`q`) against `db` and returns the parsed JSON. */
  query(db: string, q: string): Promise<InfluxQueryResult>
  /** The single number in the first row of a one-value query, 0 when the query returns no series. */
  scalar(db: string, q: string): Promise<number>
  /** Creates a database. */
  createDatabase(db: string): Promise<void>
  /** Stops the server; data stays so `start()` brings it back with the same content. */
  stop(): Promise<void>
  start(): Promise<void>
  /** Stops and removes the temp dir. */
  destroy(): Promise<void>
}

/** One series of a query's answer. */
export interface InfluxSeries { name: string, columns: string[], values: unknown[][], tags?: Record<string, string> }

export interface InfluxQueryResult {
  results: Array<{ error?: string, series?: InfluxSeries[] }>
}

/**
 * Starts a private influxd (and waits until it answers `/ping`).
 *
 * @example
 * const influx = await startInfluxd()
 * await influx.createDatabase('db1')
 */
export async function startInfluxd(): Promise<Influxd> {
  // A port found free can be taken before influxd binds it, by a process that is not ours: an influxd that
  // exits before it answers is started again on new ports, twice, and the last error says what influxd printed.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startInfluxdOnce()
    } catch (error) {
      if (attempt === 3 || !(error instanceof ServiceExited)) throw error
    }
  }
}

async function startInfluxdOnce(): Promise<Influxd> {
  const [port, rpcPort] = [await freePort(), await freePort()]
  const dir = mkdtempSync(join(tmpdir(), 'routemeter-influxd-'))
  const config = join(dir, 'influxdb.conf')
  writeFileSync(config, [
    'reporting-disabled = true',
    `bind-address = "127.0.0.1:${rpcPort}"`,
    '[meta]', `  dir = "${join(dir, 'meta')}"`, '  logging-enabled = false',
    '[data]', `  dir = "${join(dir, 'data')}"`, `  wal-dir = "${join(dir, 'wal')}"`, '  query-log-enabled = false',
    '[monitor]', '  store-enabled = false',
    '[http]', `  bind-address = "127.0.0.1:${port}"`, '  log-enabled = false',
    '[logging]', '  level = "error"',
    '',
  ].join('\n'))
  const url = `http://127.0.0.1:${port}`
  let child: ChildProcess | undefined
  let untrack = (): void => {}

  const start = async (): Promise<void> => {
    const proc = spawn('influxd', ['run', '-config', config], { stdio: ['ignore', 'ignore', 'pipe'] })
    child = proc
    untrack = trackChild(proc)
    await untilServing(proc, `influxd on port ${port}`, async () => {
      const res = await request(`${url}/ping`)
      await res.body.dump()
      return res.statusCode === 204
    }, 20_000, 50)
  }
  const stop = async (): Promise<void> => {
    const proc = child
    child = undefined
    if (proc !== undefined) await stopChild(proc, 5000)
    untrack()
  }
  const query = async (db: string, q: string): Promise<InfluxQueryResult> => {
    const res = await request(`${url}/query?${new URLSearchParams({ db, q, epoch: 'ns' })}`, { method: 'POST' })
    const body = await res.body.json() as InfluxQueryResult
    if (res.statusCode !== 200) throw new Error(`influx query failed ${res.statusCode}: ${JSON.stringify(body)}`)
    return body
  }

  try {
    await start()
  } catch (error) {
    await stop()
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  return {
    port, url, query, start, stop,
    async scalar(db, q) {
      const body = await query(db, q)
      const result = body.results[0]
      if (result?.error !== undefined) throw new Error(result.error)
      const value = result?.series?.[0]?.values[0]?.[1]
      return typeof value === 'number' ? value : 0
    },
    async createDatabase(db) { await query(db, `CREATE DATABASE "${db}"`) },
    async destroy() { await stop(); rmSync(dir, { recursive: true, force: true }) },
  }
}

/** What `influxSuite` gives a test file. */
export interface InfluxSuite extends ServiceSuite {
  /** The suite's influxd, running from before the first test to after the last. Use it inside tests. */
  readonly influx: Influxd
  /** The suite's redis-server, with `{ redis: … }` only. Use it inside tests. */
  readonly redis: RedisServer
  /** Creates a database named `<prefix><n>` (default prefix `db`), unique in the suite, and returns its name. */
  newDb(prefix?: string): Promise<string>
}

/**
 * The setup of a suite that writes to InfluxDB: a private influxd (and redis-server, with `redis`) started
 * before its first test and removed after its last, unique databases, per-test cleanup. When `influxd` (or
 * `redis-server`) is missing, the tests that need it are skipped, as `servicesAvailable` says.
 *
 * @example
 * const { test, it, influx, newDb } = influxSuite('influxPublisher', { file: 'test/agent/influx-publisher.test.ts' })
 * it('writes points', async () => { const db = await newDb(); … })
 * test.run()
 */
export function influxSuite(name: string, options: { file: string, redis?: true | { password?: string } }): InfluxSuite {
  const base = serviceSuite(name, options.file, options.redis === undefined ? [INFLUXD] : [REDIS, INFLUXD])
  let influx: Influxd | undefined
  let redis: RedisServer | undefined
  let dbNo = 0
  base.test.before(async () => {
    if (!base.available) return
    // Both start at once; whichever did is kept for atEnd to stop when the other failed (a redis-server left
    // running kept the test process alive after a failed influxd start).
    const [i, r] = await Promise.allSettled([
      startInfluxd(),
      options.redis === undefined ? undefined : startRedis(options.redis === true ? {} : options.redis),
    ])
    if (i.status === 'fulfilled') influx = i.value
    if (r.status === 'fulfilled') redis = r.value
    if (i.status === 'rejected') throw i.reason
    if (r.status === 'rejected') throw r.reason
  })
  base.atEnd(async () => { await redis?.stop({ keepData: false }); await influx?.destroy() })
  const running = lateBound<Influxd>('influxd', () => influx)
  return {
    ...base,
    influx: running,
    redis: lateBound<RedisServer>('redis-server', () => redis),
    async newDb(prefix = 'db') {
      const db = `${prefix}${++dbNo}`
      await running.createDatabase(db)
      return db
    },
  }
}
