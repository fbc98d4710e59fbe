#!/usr/bin/env node
// How well routemeter names requests that no framework template names: real API route tables (corpora/), seeded
// traffic (traffic.mjs, values.mjs), every request's name compared with its template's ideal name (score.mjs).
//
//   corpus → generate(seed) → paths ─┬─ namer:    normalizePath(path)                  (value shapes alone)
//                                    │            createRouteNamer(defaults).name(c)    (what the recorder runs at flush)
//                                    └─ pipeline: HTTP → withMetrics + memorySink → record.route   (first N requests)
//                                                                                        └→ score → table + JSON line
//
//   node bench/names/run.mjs                                  # every corpus, both modes, against ../../dist
//   ROUTEMETER_DIST=/tmp/x/dist node bench/names/run.mjs --mode namer --requests 5000
//
// Flags: --mode namer|pipeline|both (both), --corpus a,b (all of corpora/), --requests N (200000),
// --pipeline-requests N (20000), --seed S (routemeter-names-1), --examples K (0: the most frequent misses per corpus).
// No times are measured: the output is a function of the build and the seed.
import http from 'node:http'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { generate, idealName, loadCorpus } from './traffic.mjs'
import { misses, score } from './score.mjs'

const here = new URL('.', import.meta.url).pathname
const { values: flags } = parseArgs({
  options: {
    mode: { type: 'string', default: 'both' },
    corpus: { type: 'string' },
    requests: { type: 'string', default: '200000' },
    'pipeline-requests': { type: 'string', default: '20000' },
    seed: { type: 'string', default: 'routemeter-names-1' },
    examples: { type: 'string', default: '0' },
  },
})
const requests = Number(flags.requests)
const pipelineRequests = Math.min(requests, Number(flags['pipeline-requests']))
const modes = flags.mode === 'both' ? ['namer', 'pipeline'] : [flags.mode]
if (!modes.every((m) => m === 'namer' || m === 'pipeline')) throw new TypeError(`--mode must be namer, pipeline or both, got ${flags.mode}`)

const dist = resolve(process.env.ROUTEMETER_DIST ?? join(here, '..', '..', 'dist'))
if (!existsSync(join(dist, 'index.js'))) throw new Error(`no routemeter build at ${dist}: build one, or set ROUTEMETER_DIST`)
const require = createRequire(import.meta.url)
const lib = require(join(dist, 'index.js'))
const { createRouteNamer } = require(join(dist, 'collect', 'route-namer.js'))
const { resolveOptions } = require(join(dist, 'options.js'))
let version = '?'
try { version = JSON.parse(readFileSync(join(dist, '..', 'package.json'), 'utf8')).version } catch { /* no package.json: version '?' */ }

const corpusNames = flags.corpus?.split(',') ??
  readdirSync(join(here, 'corpora')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort()

// ------------------------------------------------------------------------------------------------ namers
/** Names every request as the recorder does at flush: no explicit name, no framework template, 404 for the noise. */
function namerNames(traffic) {
  // The defaults a bare `withMetrics(app)` gets (maxRoutes 1000, learning on), from the build's own option parser;
  // an empty env so a ROUTEMETER_MAX_ROUTES in the shell cannot change the result.
  const namer = createRouteNamer(resolveOptions({}, {}))
  const names = new Array(traffic.paths.length)
  for (let i = 0; i < names.length; i++) {
    const c = { url: traffic.paths[i], method: traffic.methods[i], status: traffic.route[i] < 0 ? 404 : 200,
      explicitRoute: undefined, template: undefined, templateBase: '' }
    names[i] = namer.name(c)
  }
  return names
}

const shapeNames = (traffic) => traffic.paths.map((p) => lib.normalizePath(p))

/** The real pipeline over loopback HTTP: each request tags its index as a dimension, read back from the record. */
async function pipelineNames(traffic, n) {
  const { withMetrics, memorySink, metrics } = lib
  const sink = memorySink({ max: n + 1000 })
  const server = http.createServer(withMetrics((req, res) => {
    const i = Number(req.headers['x-bench-i'])
    metrics.dimension('bench_i', i)
    res.statusCode = traffic.route[i] < 0 ? 404 : 200
    res.end()
  }, { sink }))
  await new Promise((done) => server.listen(0, '127.0.0.1', done))
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
  const failures = []
  const send = (i) => new Promise((done) => {
    const req = http.request({ host: '127.0.0.1', port: server.address().port, path: traffic.paths[i], method: traffic.methods[i], agent,
      headers: { 'x-bench-i': String(i), 'content-length': '0' } }, (res) => { res.resume(); res.on('end', done) })
    req.on('error', (error) => { failures.push(`${traffic.paths[i]}: ${error.message}`); done() })
    req.end()
  })
  // In request order per connection, 16 connections: the namer sees the stream in nearly the order it was drawn.
  let next = 0
  await Promise.all(Array.from({ length: 16 }, async () => { while (next < n) await send(next++) }))
  await metrics.flush()
  agent.destroy()
  await new Promise((done) => server.close(done))
  const names = new Array(n).fill(undefined)
  for (const record of sink.records()) {
    const i = Number(record.dimensions?.bench_i)
    if (Number.isInteger(i) && i >= 0 && i < n) names[i] = record.route
  }
  const missing = names.filter((x) => x === undefined).length
  if (failures.length > 0 || missing > 0) {
    throw new Error(`pipeline: ${failures.length} failed requests, ${missing} without a record (${failures[0] ?? ''})`)
  }
  return names
}

// ------------------------------------------------------------------------------------------------- checks
// Before any scoring: the ideal-name function maps every template of a route to that route's name, and no two
// routes share one; otherwise the agreement below would measure the benchmark, not the namer.
function checkCorpus(corpus) {
  const seen = new Set()
  for (const route of corpus.routes) {
    for (const t of route.templates) if (idealName(t) !== route.ideal) throw new Error(`${corpus.api}: ideal(${t}) is not ${route.ideal}`)
    if (seen.has(route.ideal)) throw new Error(`${corpus.api}: two routes named ${route.ideal}`)
    seen.add(route.ideal)
    if (idealName(route.ideal.split('.').map((s) => (s === 'id' ? '{x}' : s)).join('/')) !== route.ideal) {
      throw new Error(`${corpus.api}: ${route.ideal} does not survive a round trip`)
    }
  }
}

const checkNames = (names, label) => {
  const bad = names.findIndex((x) => typeof x !== 'string' || x.length === 0)
  if (bad >= 0) throw new Error(`${label}: request ${bad} got no name (${String(names[bad])})`)
  return names
}

// -------------------------------------------------------------------------------------------------- report
const pct = (x) => `${(100 * x).toFixed(1)}%`
const COLUMNS = [
  ['corpus', (r) => r.corpus], ['namer', (r) => r.namer], ['requests', (r) => String(r.requests)],
  ['agree', (r) => pct(r.agree)], ['route agree', (r) => pct(r.routeAgree)],
  ['names/route', (r) => `${r.namesPerRoute.toFixed(2)} (${r.names}/${r.routesHit})`], ['max names', (r) => String(r.maxNames)],
  ['folded', (r) => String(r.folded)], ['other', (r) => pct(r.other)], ['noise names', (r) => String(r.noiseNames)],
]

function table(rows) {
  const cells = [COLUMNS.map(([h]) => h), ...rows.map((r) => COLUMNS.map(([, f]) => f(r)))]
  const width = COLUMNS.map((_, j) => Math.max(...cells.map((c) => c[j].length)))
  const line = (c) => `| ${c.map((x, j) => (j < 2 ? x.padEnd(width[j]) : x.padStart(width[j]))).join(' | ')} |`
  const rule = `|${width.map((w, j) => (j < 2 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n')
}

const rows = []
const json = { seed: flags.seed, requests, pipelineRequests, routemeter: version, corpora: {} }
console.log(`routemeter naming benchmark: build ${dist} (routemeter ${version}), seed ${flags.seed}`)
for (const name of corpusNames) {
  const corpus = loadCorpus(join(here, 'corpora', `${name}.json`))
  checkCorpus(corpus)
  const traffic = { ...corpus, ...generate(corpus, { seed: flags.seed, count: requests }) }
  const out = (json.corpora[name] = { source: `${corpus.source.package}@${corpus.source.version}`, routes: corpus.routes.length })
  console.log(`\n${name}: ${corpus.routes.length} routes (${corpus.templateCount} templates) from ${out.source}`)
  const contenders = []
  if (modes.includes('namer')) {
    contenders.push(['normalizePath', async () => shapeNames(traffic), requests], ['namer', async () => namerNames(traffic), requests])
  }
  if (modes.includes('pipeline')) contenders.push(['pipeline', () => pipelineNames(traffic, pipelineRequests), pipelineRequests])
  for (const [label, run, count] of contenders) {
    const names = checkNames(await run(), `${name} ${label}`)
    const sample = { ...traffic, route: traffic.route.subarray(0, count), paths: traffic.paths.slice(0, count) }
    const result = score(sample, names)
    out[label] = result
    rows.push({ corpus: name, namer: label, ...result })
    for (const m of misses(sample, names, Number(flags.examples))) console.log(`  ${label} miss ×${m.count}: ${m.key}   (${m.path})`)
  }
}
console.log(`\n${table(rows)}\n`)
console.log(JSON.stringify(json))
