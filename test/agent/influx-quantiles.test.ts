/**
 * Percentiles end to end against real servers: v=1 and v=2 entries of a known latency distribution go
 * through redis-server and the agent into influxd, and the README's InfluxQL queries must give back p50,
 * p90 and p99 within the sketch's stated relative error of the exact quantiles of the same requests.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { createClient } from 'redis'
import { startAgent } from '../../src/agent/agent.js'
import { influxPublisher } from '../../src/agent/influx-publisher.js'
import { quantileFromSums } from '../../src/wire/influx-line.js'
import { SKETCH_RELATIVE_ERROR } from '../../src/wire/sketch.js'
import { influxSuite } from '../support/influxd.js'
import { exactQuantile as exact, latencyLoad, statusOf } from '../support/latency-load.js'
import { decoded } from '../support/entries.js'
import { until } from '../support/eventually.js'

const { test, it, influx, redis, newDb } = influxSuite('percentiles through the stream into influxd', {
  file: 'test/agent/influx-quantiles.test.ts', redis: true,
})

// The load's entries start at 2025-11-22T08:00:00Z, one second apart (explicit stream ids): 60 of them, one minute.
const ENTRIES = 60
const PER_ENTRY = 500
const QS = [0.5, 0.9, 0.99]
const relErr = (got: number, want: number): number => Math.abs(got / want - 1)

/** The README's client-side step, taken from the README itself, so the text users copy is what is tested. */
function readmeQuantile(): (columns: string[], row: unknown[], q: number) => number {
  const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8')
  const code = /```js\n(\/\/ Quantile q[\s\S]*?\n\})\n/.exec(readme)
  assert.ok(code, 'the README has the quantileFromSums snippet')
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the README's own text is what runs here
  return new Function(`${code![1]}\nreturn quantileFromSums`)() as (columns: string[], row: unknown[], q: number) => number
}

// Two hosts, alternating by entry: each route is two series in InfluxDB, which the README's sums merge.
const load = () => latencyLoad(ENTRIES, PER_ENTRY, { dimensions: (e) => ({ service: 'shop', host: `h${e % 2}` }) })

it('p50/p90/p99 per route over the whole range and per 10 s are within the sketch error; counts stay exact on redelivery', async () => {
  const db = await newDb('quantiles')
  const { raw: entries, times } = load()
  const client = createClient({ url: redis.url })
  await client.connect()
  for (const e of entries) await client.xAdd('q', e.id, { v: e.v, n: String(e.n), p: e.p })
  await client.close()
  const publishers = [influxPublisher({ url: influx.url, db })]
  const agent = startAgent({ redis: redis.url, stream: 'q', group: 'g', consumer: 'a', blockMs: 100, publishers })
  try {
    await until(() => agent.stats().entries === ENTRIES, 'all entries published', 20_000)
  } finally { await agent.stop() }
  const total = ENTRIES * PER_ENTRY
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"'), total)

  // README: p99 per route over a range: sum the buckets in InfluxDB, read the quantile off the sums.
  const range = `time >= '2025-11-22T08:00:00Z' AND time < '2025-11-22T08:05:00Z'`
  const perRoute = await influx.query(db, `SELECT sum(*) FROM "RequestTime" WHERE ${range} GROUP BY "route"`)
  const report: string[] = []
  const readme = readmeQuantile()
  let worst = 0
  for (const series of perRoute.results[0].series ?? []) {
    const route = series.tags!.route
    const all = times.get(route)!.flat()
    assert.is(series.values[0][series.columns.indexOf('sum_count')], all.length)
    for (const q of QS) {
      const got = quantileFromSums(series.columns, series.values[0], q)
      assert.is(readme(series.columns, series.values[0], q), got)
      const err = relErr(got, exact(all, q))
      worst = Math.max(worst, err)
      report.push(`${route} p${q * 100}: ${got.toFixed(3)} vs ${exact(all, q).toFixed(3)} (${(err * 100).toFixed(2)} %)`)
      assert.ok(err <= SKETCH_RELATIVE_ERROR + 1e-9, report.join('\n'))
    }
  }
  assert.is(perRoute.results[0].series?.length, 3)

  // README: p99 of one route per 10 s.
  const per10Query = `SELECT sum(*) FROM "RequestTime" WHERE "route" = 'search' AND ${range} GROUP BY time(10s) fill(none)`
  const per10 = await influx.query(db, per10Query)
  const rows = per10.results[0].series![0]
  assert.is(rows.values.length, ENTRIES / 10)
  for (let w = 0; w < rows.values.length; w++) {
    const window = times.get('search')!.slice(w * 10, w * 10 + 10).flat()
    for (const q of QS) {
      const err = relErr(quantileFromSums(rows.columns, rows.values[w], q), exact(window, q))
      worst = Math.max(worst, err)
      assert.ok(err <= SKETCH_RELATIVE_ERROR + 1e-9, `window ${w} p${q * 100}: ${(err * 100).toFixed(2)} %`)
    }
  }

  // The per-entry fields are exact only per entry: over many entries max("p99") is no p99. Measured, not asserted.
  const approx = await influx.query(db, `SELECT max("p99") FROM "RequestTime" WHERE ${range} GROUP BY "route"`)
  for (const series of approx.results[0].series ?? []) {
    const all = times.get(series.tags!.route)!.flat()
    report.push(`${series.tags!.route} max("p99") ${Number(series.values[0][1]).toFixed(3)} vs exact p99 ${exact(all, 0.99).toFixed(3)}`)
  }
  report.push(`worst relative error ${(worst * 100).toFixed(3)} %`)
  if (process.env.ROUTEMETER_TEST_VERBOSE) process.stdout.write(`${report.join('\n')}\n`)

  // Status classes: 404 and 429 in 4xx, 503 in 5xx; exact counts.
  const classes = await influx.query(db, `SELECT sum("count") FROM "RequestTime" WHERE ${range} GROUP BY "status_class"`)
  const byClass = Object.fromEntries((classes.results[0].series ?? []).map((s) => [s.tags!.status_class, s.values[0][1]]))
  const statuses = Array.from({ length: PER_ENTRY }, (_, i) => statusOf(i))
  const count = (pred: (status: number) => boolean): number => ENTRIES * statuses.filter(pred).length
  assert.equal(byClass, {
    '2xx': count((status) => status === 200),
    '4xx': count((status) => status === 404 || status === 429),
    '5xx': count((status) => status === 503),
  })

  // Redelivery of every entry (an agent killed before its acks): the same points again, nothing added. Read from
  // the same stream, so tagged with it as the agent's were.
  const again = influxPublisher({ url: influx.url, db })
  await again.publish(entries.map((e) => ({ ...decoded(e), stream: 'q' })))
  assert.is(await influx.scalar(db, 'SELECT sum("count") FROM "RequestTime"'), total)
  const resum = await influx.query(db, `SELECT sum(*) FROM "RequestTime" WHERE ${range} GROUP BY "route"`)
  assert.equal(resum, perRoute)
})

it('with statusCode: true the exact code is a tag too, beside status_class', async () => {
  const db = await newDb('codes')
  const { entries } = load()
  const pub = influxPublisher({ url: influx.url, db, statusCode: true })
  await pub.publish(entries.slice(0, 5))
  const res = await influx.query(db, 'SELECT sum("count") FROM "RequestTime" GROUP BY "status", "status_class"')
  const tags = (res.results[0].series ?? []).map((s) => `${s.tags!.status}/${s.tags!.status_class}`).sort()
  assert.equal(tags, ['200/2xx', '404/4xx', '429/4xx', '503/5xx'])
})

test.run()
