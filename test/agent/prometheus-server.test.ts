/**
 * The real thing: a Debian `prometheus` scrapes prometheusPublisher every second, and the README's PromQL,
 * run through `/api/v1/query`, gives each route's p99 within 10 % of the exact p99 of the same requests;
 * `sum(http_server_request_duration_seconds_count)` is the exact number of requests, redeliveries included.
 */
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

const P99_PER_ROUTE = 'histogram_quantile(0.99, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket[5m])))'
const COUNT = 'sum(http_server_request_duration_seconds_count)'

it('histogram_quantile(0.99) per route is within 10 % of the exact p99; counts are exact, redeliveries not counted twice', async () => {
  const ENTRIES = 40
  const PER_ENTRY = 500
  const { entries, times } = latencyLoad(ENTRIES, PER_ENTRY)
  // rate() needs a sample before the increase: the first entry creates every series, then the rest arrive.
  await publisher.publish(entries.slice(0, 1))
  await waitFor('a scrape of the first entry', async () => (await prometheus.query(COUNT))[0]?.value === PER_ENTRY, 30_000, 200)
  await publisher.publish(entries.slice(1))
  await publisher.publish(entries.slice(10, 20)) // redelivered: skipped
  await waitFor('a scrape of every entry', async () => (await prometheus.query(COUNT))[0]?.value === ENTRIES * PER_ENTRY, 30_000, 200)
  assert.is((await prometheus.query(COUNT))[0].value, ENTRIES * PER_ENTRY)
  const dup = await prometheus.query('routemeter_prometheus_duplicate_entries_total')
  assert.is(dup[0].value, 10)

  const results = await prometheus.query(P99_PER_ROUTE)
  assert.is(results.length, times.size, JSON.stringify(results))
  const report: string[] = []
  for (const { metric, value } of results) {
    // The increase covers entries 1…: the first entry is the rate's starting point.
    const exact = exactQuantile(times.get(metric.http_route)!.slice(1).flat(), 0.99) / 1000
    const err = Math.abs(value / exact - 1)
    const ms = (s: number): string => (s * 1000).toFixed(3)
    report.push(`${metric.http_route} p99 ${ms(value)} ms vs exact ${ms(exact)} ms (${(err * 100).toFixed(2)} %)`)
  }
  process.stderr.write(`[prometheus] ${report.join('; ')}\n`)
  for (const line of report) assert.ok(Number(/\(([\d.]+) %\)/.exec(line)![1]) <= 10, report.join('\n'))

  // Error rate by status class, the README's query: 5xx are 1 in 37 of the requests here.
  const classes = await prometheus.query('sum by (status_class) (rate(http_server_request_duration_seconds_count[5m]))')
  assert.equal(classes.map((r) => r.metric.status_class).sort(), ['2xx', '4xx', '5xx'])
})

test.run()
