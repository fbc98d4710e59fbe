/**
 * The real thing: a Debian `prometheus` scrapes prometheusPublisher every second, and the README's PromQL,
 * run through `/api/v1/query`, gives each route's p99 within 10 % of the exact p99 of the same requests;
 * `sum(http_server_request_duration_seconds_count)` is the exact number of requests, redeliveries included.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { prometheusPublisher, type PrometheusPublisher } from '../../src/agent/prometheus-publisher.js'
import { exactQuantile, latencyLoad, startPrometheus, type PrometheusServer } from '../support/prometheus.js'
import { PROMETHEUS, servicesAvailable, waitFor } from '../support/services.js'

const test = suite('prometheusPublisher scraped by a real prometheus')
const available = servicesAvailable('test/agent/prometheus-server.test.ts (prometheus scraping the agent)', [PROMETHEUS])
const it = available ? test : test.skip

let prometheus: PrometheusServer
let publisher: PrometheusPublisher
let port: number
test.before(async () => {
  if (!available) return
  publisher = prometheusPublisher({ port: 0, host: '127.0.0.1' })
  port = (await publisher.listening).port
  prometheus = await startPrometheus([`127.0.0.1:${port}`])
})
test.after(async () => { await prometheus?.destroy(); await publisher?.close() })

// The README's queries, cut out of it, so the PromQL users copy is what is tested.
const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8')
const promql = /### Prometheus[\s\S]*?```promql\n([\s\S]*?)```/.exec(readme)?.[1] ?? ''
const queries = promql.split(/\n\n/).map((block) => block.split('\n').filter((l) => !l.startsWith('#')).join(' ').trim())
const P99_PER_ROUTE = queries.find((q) => q.startsWith('histogram_quantile(0.99')) ?? 'missing from the README'
const FIVE_XX_SHARE = queries.find((q) => q.includes('status_class="5xx"')) ?? 'missing from the README'
const BY_CLASS = queries.find((q) => q.startsWith('sum by (status_class)')) ?? 'missing from the README'
const COUNT = 'sum(http_server_request_duration_seconds_count)'

const SAMPLES = 'max(count_over_time(http_server_request_duration_seconds_count[5m]))'
const samples = async (): Promise<number> => (await prometheus.query(SAMPLES))[0]?.value ?? 0

it('histogram_quantile(0.99) per route is within 10 % of the exact p99; counts are exact, redeliveries not counted twice', async () => {
  const ENTRIES = 40
  const PER_ENTRY = 500
  const { entries, times, statuses } = latencyLoad(ENTRIES, PER_ENTRY)
  // rate() needs samples before the increase: the first entry creates every series (each route's requests
  // span all its method and status class pairs), a few scrapes see it, then the rest arrive.
  await publisher.publish(entries.slice(0, 1))
  await waitFor('4 scrapes of the first entry', async () => (await samples()) >= 4, 30_000, 200)
  await publisher.publish(entries.slice(1))
  await publisher.publish(entries.slice(10, 20)) // redelivered: skipped
  await waitFor('a scrape of every entry', async () => (await prometheus.query(COUNT))[0]?.value === ENTRIES * PER_ENTRY, 30_000, 200)
  // More scrapes after the last change: rate() extrapolates each series to the window's ends by up to half a
  // scrape interval, less for a series whose first value is small, which skews ratios by about 1/samples.
  const after = await samples()
  await waitFor('4 more scrapes', async () => (await samples()) >= after + 4, 30_000, 200)
  assert.is((await prometheus.query(COUNT))[0].value, ENTRIES * PER_ENTRY)
  assert.is((await prometheus.query('routemeter_prometheus_duplicate_entries_total'))[0].value, 10)

  const report: string[] = []
  const check = async (label: string, query: string, exactOf: (route: string) => number): Promise<void> => {
    const results = await prometheus.query(query)
    assert.is(results.length, times.size, JSON.stringify(results))
    for (const { metric, value } of results) {
      const exact = exactOf(metric.http_route) / 1000
      const err = Math.abs(value / exact - 1)
      const ms = (s: number): string => (s * 1000).toFixed(3)
      report.push(`${label} ${metric.http_route} p99 ${ms(value)} ms vs exact ${ms(exact)} ms (${(err * 100).toFixed(2)} %)`)
      assert.ok(err <= 0.1, report.join('\n'))
    }
  }
  // The cumulative buckets: every request, no extrapolation, so only the bucket layout's error is left.
  await check('total', 'histogram_quantile(0.99, sum by (le, http_route) (http_server_request_duration_seconds_bucket))',
    (route) => exactQuantile(times.get(route)!.flat(), 0.99))
  // The README's query: its rate window holds entries 1…, the increase after the first scrapes.
  await check('rate[5m]', P99_PER_ROUTE, (route) => exactQuantile(times.get(route)!.slice(1).flat(), 0.99))
  process.stderr.write(`[prometheus] ${report.join('; ')}\n`)

  const classes = await prometheus.query(BY_CLASS)
  assert.equal(classes.map((r) => r.metric.status_class).sort(), ['2xx', '4xx', '5xx'])
  // Each route's 5xx share: exact from the totals. Through the README's rate() query it is an estimate: each
  // series is extrapolated by up to half a scrape interval, capped where a series' first value is small, so
  // with ≈ 8 s of samples ratios move by a few percent (measured: 7 %).
  const cumulative = FIVE_XX_SHARE.replace(/rate\((.*?)\[5m\]\)/g, '$1')
  for (const [query, window, tolerance] of [[cumulative, statuses, 1e-9], [FIVE_XX_SHARE, statuses.slice(1), 0.15]] as const) {
    const shares = await prometheus.query(query)
    assert.is(shares.length, times.size, query)
    for (const { metric, value } of shares) {
      const all = window.flatMap((e) => e.get(metric.http_route)!)
      const want = all.filter((code) => code >= 500).length / all.length
      assert.ok(Math.abs(value / want - 1) <= tolerance, `${query}: ${metric.http_route} 5xx share ${value} vs ${want}`)
    }
  }
})

test.run()
