#!/usr/bin/env node
// How long the attributed clock's holds are, and which of them held loop idle time: for each switch between
// requests, the stretch it ends (`now − since`) and whether libuv's idle counter moved across it. libuv adds to
// that counter only when the loop blocks in `epoll_wait`, so a hold that held idle time spanned a sleep and a
// wake-up; the shortest such hold says how short a hold can be and still need the counter read.
//
//   node bench/holds.mjs [--cases json:16,json:1,await20:16,tiny:16] [--seconds 4]
//
// Runs the bench's app (bench/app.mjs) in this process, wrapped by a copy of the build (../dist, or
// ROUTEMETER_BENCH_DIST) whose `switchAt` also reports each hold (lib/build-copy.mjs), under the bench's load
// generator (load.mjs, a child process) with `connections` keep-alive connections per case, for a warm-up second
// and then `--seconds` of counting. The report adds a function call per switch, which lengthens holds a little.
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { ROUTES, app, served } from './app.mjs'
import { patchedBuild } from './lib/build-copy.mjs'
import { DIST } from './lib/dist.mjs'
import { spawnLoad, startLoad } from './lib/load-run.mjs'

const { values: args } = parseArgs({
  options: { cases: { type: 'string', default: 'json:16,json:1,await20:16,tiny:16' }, seconds: { type: 'string', default: '4' } },
})
const cases = args.cases.split(',').map((c) => {
  const [route, connections] = c.split(':')
  if (!(route in ROUTES) || !(Number(connections) >= 1)) throw new TypeError(`--cases: route:connections, got ${c}`)
  return { route, connections: Number(connections) }
})
const REPORT = 'globalThis[Symbol.for("routemeter.bench.hold")]'

const copy = patchedBuild(DIST, [{
  file: 'collect/cpu-attributed.js',
  line: /^(\s*)const onThread = now - at\.since - \(idle - at\.idleSince\);$/m,
  replace: (whole, indent) => `${whole}\n${indent}${REPORT}(now - at.since, idle - at.idleSince);`,
}], 'routemeter-holds-')

/** The holds of one case: how many, how many under 3 µs and 3–10 µs, and those that held idle time. */
let tally
const fresh = () => ({ holds: 0, under3: 0, under10: 0, withIdle: 0, shortestWithIdle: Infinity, leastIdle: Infinity })
globalThis[Symbol.for('routemeter.bench.hold')] = (heldMs, idleMs) => {
  if (tally === undefined) return
  const us = heldMs * 1000
  tally.holds++
  if (us < 3) tally.under3++
  else if (us < 10) tally.under10++
  if (idleMs > 0) {
    tally.withIdle++
    tally.shortestWithIdle = Math.min(tally.shortestWithIdle, us)
    tally.leastIdle = Math.min(tally.leastIdle, idleMs * 1000)
  }
}

try {
  const rm = await import(pathToFileURL(path.join(copy, 'index.js')).href)
  const sink = { send() {}, flush: async () => {}, close: async () => {} }
  const server = http.createServer(rm.withMetrics(app, { sink }))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = server.address().port
  console.log(`node ${process.version}; ${args.seconds} s a case`)
  console.log('| route × connections | requests | holds a request | under 3 µs | 3–10 µs | holds with idle time | ' +
    'the shortest of those | the least idle time in one |')
  console.log('|---|--:|--:|--:|--:|--:|--:|--:|')
  const us = (x) => (Number.isFinite(x) ? `${x.toFixed(1)} µs` : '—')
  const load = await spawnLoad()
  for (const { route, connections } of cases) {
    const run = await startLoad(load, { port, route, connections })
    await sleep(1000)
    const before = served.count
    tally = fresh()
    await sleep(Number(args.seconds) * 1000)
    const t = tally
    tally = undefined
    const requests = served.count - before
    await run.finish()
    if (requests === 0 || t.holds === 0) throw new Error(`${route}: ${requests} requests, ${t.holds} holds counted`)
    const share = (n) => `${((100 * n) / t.holds).toFixed(1)} %`
    const perRequest = (t.holds / requests).toFixed(2)
    console.log(`| ${route} × ${connections} | ${requests} | ${perRequest} | ${share(t.under3)} | ${share(t.under10)} | ` +
      `${t.withIdle} | ${us(t.shortestWithIdle)} | ${us(t.leastIdle)} |`)
  }
  load.disconnect()
  server.close()
  await rm.metrics.close()
} finally {
  fs.rmSync(path.dirname(copy), { recursive: true, force: true })
}
