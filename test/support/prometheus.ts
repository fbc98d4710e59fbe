/**
 * A private Prometheus server (`prometheus`, Debian package `prometheus`) for one test file: a generated
 * config scraping the given loopback targets every second, TSDB in a temp dir, web on a free loopback port.
 * Also the latency load the Prometheus suites share: lognormal request times with known exact quantiles.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MetricRecord } from '../../src/wire/record.js'
import { agentEntry } from '../../src/agent/aggregate.js'
import type { AgentEntry } from '../../src/agent/publisher.js'
import { decodeEntry, encodeBatch } from '../../src/wire/stream-encoding.js'
import { lognormal } from '../wire/lognormal.js'
import { freePort, trackChild, waitFor } from './services.js'

export interface PrometheusServer {
  readonly url: string
  /** Runs an instant PromQL query through `/api/v1/query`; the vector's samples as labels and value. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>, value: number }>>
  destroy(): Promise<void>
}

export async function startPrometheus(targets: string[]): Promise<PrometheusServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'routemeter-prometheus-'))
  const config = join(dir, 'prometheus.yml')
  writeFileSync(config, [
    'global:', '  scrape_interval: 1s', '  scrape_timeout: 1s',
    'scrape_configs:', '  - job_name: routemeter', '    static_configs:',
    `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`, '',
  ].join('\n'))
  const url = `http://127.0.0.1:${port}`
  const child: ChildProcess = spawn('prometheus', [
    `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=error',
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  const untrack = trackChild(child)
  let log = ''
  child.stderr?.on('data', (c: Buffer) => { log = (log + c.toString()).slice(-4000) })
  let exited = false
  child.once('exit', () => { exited = true })
  await waitFor(`prometheus on port ${port}`, async () => {
    if (exited) throw new Error(`prometheus exited: ${log}`)
    const res = await fetch(`${url}/-/ready`)
    await res.body?.cancel()
    return res.status === 200
  }, 30_000, 100)
  return {
    url,
    async query(promql) {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`)
      type Vector = Array<{ metric: Record<string, string>, value: [number, string] }>
      const body = await res.json() as { status: string, error?: string, data: { result: Vector } }
      if (body.status !== 'success') throw new Error(`prometheus query ${promql} failed: ${body.error}`)
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }))
    },
    async destroy() {
      if (!exited) {
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
        await gone
        clearTimeout(timer)
      }
      untrack()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

// Three routes with different lognormal latencies (median e^mu ms): a fast one, a slow one, a heavy-tailed one.
export const ROUTES: Record<string, { mu: number, sigma: number }> = {
  health: { mu: -1, sigma: 0.4 }, checkout: { mu: 3, sigma: 0.8 }, search: { mu: 1.5, sigma: 1.5 },
}

/** The element of rank ⌊q·(n−1)⌋, the definition the sketch uses. */
export const exactQuantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(q * (sorted.length - 1))]
}

/**
 * `entries` stream entries of `perEntry` requests each, over three routes, two methods and 2xx/4xx/5xx, every
 * fifth in the v=1 schema; `times` holds each route's RequestTime values per entry.
 */
export interface LatencyLoad {
  entries: AgentEntry[]
  /** The same entries as stream fields, for XADD. */
  raw: Array<{ id: string, v: string, n: number, p: string }>
  times: Map<string, number[][]>
  /** Per entry, each route's status codes. */
  statuses: Array<Map<string, number[]>>
}

export function latencyLoad(entries: number, perEntry: number, t0 = 1763798400000): LatencyLoad {
  const out: AgentEntry[] = []
  const raw: Array<{ id: string, v: string, n: number, p: string }> = []
  const routes = Object.keys(ROUTES)
  const times = new Map<string, number[][]>(routes.map((r) => [r, []]))
  const statuses: Array<Map<string, number[]>> = []
  for (let e = 0; e < entries; e++) {
    const batch: MetricRecord[] = []
    const perRoute = new Map<string, number[]>(routes.map((r) => [r, []]))
    const codes = new Map<string, number[]>(routes.map((r) => [r, []]))
    statuses.push(codes)
    for (let i = 0; i < perEntry; i++) {
      const route = routes[(i * 7 + e) % 3]
      const { mu, sigma } = ROUTES[route]
      const ms = lognormal(1, mu, sigma, e * perEntry + i + 1)[0]
      const status = i % 37 === 0 ? 503 : i % 11 === 0 ? 404 : i % 13 === 0 ? 429 : 200
      perRoute.get(route)!.push(ms)
      codes.get(route)!.push(status)
      batch.push({
        kind: 'request', prefix: '', route, method: i % 3 ? 'GET' : 'POST', status, aborted: false,
        dimensions: { service: 'shop' },
        counters: { Failure: status >= 500 ? 1 : 0, ClientError: status >= 400 && status < 500 ? 1 : 0 },
        timers: { RequestTime: ms, CpuTime: ms / 4 },
        timestamp: t0 + e * 1000 + i,
      })
    }
    for (const r of routes) times.get(r)!.push(perRoute.get(r)!)
    const [entry] = encodeBatch(batch, undefined, { version: e % 5 === 4 ? 1 : 2 }).entries
    const id = `${t0 + e * 1000}-0`
    raw.push({ id, ...entry })
    out.push(agentEntry(id, decodeEntry(entry.v, entry.p)))
  }
  return { entries: out, raw, times, statuses }
}
