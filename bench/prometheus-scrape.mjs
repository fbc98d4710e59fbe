#!/usr/bin/env node
// How long a scrape of the agent's Prometheus endpoint holds the agent's event loop, and how long it takes.
//
//   node bench/prometheus-scrape.mjs [--routes 2500] [--scrapes 3]     # against ../dist (build first)
//
// A prometheusPublisher (from the build) is given one entry of `routes` routes × 3 status classes (7,500 label
// sets at the default: a 25 MB exposition), then scraped over loopback `--scrapes` times. While each scrape runs,
// a 1 ms interval records the longest gap between its ticks: the longest stretch the agent could not read,
// ack or publish. Checks before reporting: every scrape is 200 with the same length, and ends with the
// publisher's own counters.
import { createRequire } from 'node:module'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { DIST } from './lib/dist.mjs'

const require = createRequire(import.meta.url)
const { prometheusPublisher } = require(path.join(DIST, 'agent', 'prometheus-publisher.js'))
const { agentEntry } = require(path.join(DIST, 'agent', 'aggregate.js'))
const { decodeEntry, encodeBatch } = require(path.join(DIST, 'wire', 'stream-encoding.js'))

const { values } = parseArgs({ options: { routes: { type: 'string', default: '2500' }, scrapes: { type: 'string', default: '3' } } })
const ROUTES = Number(values.routes)

const records = []
for (let i = 0; i < ROUTES; i++) {
  for (const status of [200, 404, 500]) {
    records.push({
      kind: 'request', prefix: '', route: `route${i}`, method: 'GET', status, aborted: false, dimensions: {},
      counters: { Failure: status >= 500 ? 1 : 0, ClientError: status === 404 ? 1 : 0, Aborted: 0 },
      timers: { RequestTime: 12.5 + i, CpuTime: 1.25 }, timestamp: 1763798400000,
    })
  }
}
const { entries } = encodeBatch(records) // several entries when the batch is over an entry's size: the publisher takes them all
const publisher = prometheusPublisher({ port: 0, host: '127.0.0.1' })
const { port } = await publisher.listening
await publisher.publish(entries.map((e, i) => agentEntry(`1763798400000-${i}`, decodeEntry(e.v, e.p))))

console.log(`node ${process.version}; ${ROUTES * 3} label sets`)
let length
for (let s = 0; s < Number(values.scrapes); s++) {
  let last = performance.now()
  let longest = 0
  const ticker = setInterval(() => { const now = performance.now(); longest = Math.max(longest, now - last); last = now }, 1)
  const started = performance.now()
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  const body = await res.text()
  const took = performance.now() - started
  clearInterval(ticker)
  const whole = body.includes('routemeter_prometheus_duplicate_entries_total 0\n')
  if (res.status !== 200 || !whole) throw new Error(`scrape ${s}: bad answer`)
  if (length !== undefined && body.length !== length) throw new Error(`scrape ${s}: ${body.length} bytes, not ${length}`)
  length = body.length
  const mb = (body.length / 1e6).toFixed(1)
  console.log(`scrape ${s + 1}: ${mb} MB in ${took.toFixed(0)} ms; longest loop stretch ${longest.toFixed(1)} ms`)
}
await publisher.close()
