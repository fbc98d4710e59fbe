/**
 * A private Prometheus server (`prometheus`, Debian package `prometheus`) for one test file: a generated
 * config scraping the given loopback targets every second, TSDB in a temp dir, web on a free loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, stopChild, trackChild, untilServing } from './services.js'

export interface PrometheusServer {
  readonly url: string
  /** Runs an instant PromQL query through `/api/v1/query`; the vector's samples as labels and value. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>, value: number }>>
  destroy(): Promise<void>
}

/**
 * Starts a private Prometheus scraping `targets` (`host:port`) every second; resolves once it is ready.
 *
 * @example
 * const prometheus = await startPrometheus([`127.0.0.1:${port}`])
 * await prometheus.query('sum(routemeter_failure_total)')
 */
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
  await untilServing(child, `prometheus on port ${port}`, async () => {
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
      await stopChild(child, 5000)
      untrack()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

// The latency load of the Prometheus suites, shared with the InfluxDB ones.
export { exactQuantile, latencyLoad, ROUTES, type LatencyLoad } from './latency-load.js'
