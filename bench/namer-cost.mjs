#!/usr/bin/env node --expose-gc
// What the route namer costs at flush, per request, and what its learned model holds in memory.
//
//   node --expose-gc bench/namer-cost.mjs                 # against ../dist (build first)
//   ROUTEMETER_DIST=/tmp/x/dist node --expose-gc bench/namer-cost.mjs
//   node --expose-gc bench/namer-cost.mjs --shapes        # only 4. below
//   ROUTEMETER_DIST_BEFORE=/tmp/old/dist node --expose-gc bench/namer-cost.mjs --shapes   # 4., both builds
//
// Paths come from a seeded generator (no Math.random): 40 route templates of a made-up API whose values are
// plain words (`/api/v1/namespaces/<word>-<word>/pods/<word>-<n>`), integers and hex ids, so the model has to
// learn; every value is fresh with probability 1/2, else drawn from the 200 most recent, so names repeat
// and paths mostly do not, as in real traffic. Four measurements:
//   1. ns per request at flush, steady state (after 200k requests), for the learning namer (the default),
//      `learn: false` (value shapes alone) and `normalizePath` by itself: interleaved rounds, median;
//   2. heap held by the model after 1M requests of that traffic (1M distinct paths), and its node count;
//   3. heap held at the node cap: 1M paths of random words at every position (nothing to learn), which
//      fills the model to `DEFAULT_MAX_NODES` and stops there;
//   4. ns per name for each of the five path shapes the other benches send (bench/paths.mjs: an integer id,
//      a UUID, nested ids, a fixed word, a versioned UUID), as flat strings like the ones the HTTP parser gives;
//      with ROUTEMETER_DIST_BEFORE, an older build's namer too, in the same process and interleaved rounds, so
//      both meet the same noisy seconds (this machine's speed swung twofold between separate runs).
// Checks before timing: the learning namer names at least 95% of the generated requests as their template.
import { createRequire } from 'node:module'
import { resolve } from 'node:path'

import { pathFactory } from './paths.mjs'

const require = createRequire(import.meta.url)
const dist = resolve(process.env.ROUTEMETER_DIST ?? new URL('../dist', import.meta.url).pathname)
const { createRouteNamer } = require(`${dist}/collect/route-namer.js`)
const before = process.env.ROUTEMETER_DIST_BEFORE ? resolve(process.env.ROUTEMETER_DIST_BEFORE) : undefined
const { createRouteModel } = require(`${dist}/collect/route-model.js`)
const { DEFAULT_MAX_NODES } = require(`${dist}/collect/route-rules.js`)
const { normalizePath, pathTokens } = require(`${dist}/collect/normalize-path.js`)
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')

function xorshift(seed) {
  let x = seed >>> 0 || 1
  return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 4294967296 }
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'be', 'do', 'fu', 'ga', 'hi', 'jo', 'pe', 'zu']
const RESOURCES = ['pods', 'services', 'configmaps', 'secrets', 'events', 'leases', 'jobs', 'ingresses']

function traffic(seed) {
  const rng = xorshift(seed)
  const pick = (items) => items[Math.floor(rng() * items.length)]
  const word = () => pick(SYLLABLES) + pick(SYLLABLES) + pick(SYLLABLES)
  const recent = new Map() // kind → recent values
  const value = (kind, fresh) => {
    let list = recent.get(kind)
    if (list === undefined) recent.set(kind, (list = []))
    if (list.length > 0 && rng() < 0.5) return pick(list)
    const v = fresh()
    list.push(v)
    if (list.length > 200) list.shift()
    return v
  }
  const ns = () => value('ns', () => `${word()}-${word()}`)
  const obj = () => value('obj', () => `${word()}-${Math.floor(rng() * 1000)}`)
  const int = () => String(1 + Math.floor(rng() * 1e7))
  const hex = () => Math.floor(rng() * 2 ** 32).toString(16).padStart(8, '0') + Math.floor(rng() * 2 ** 32).toString(16).padStart(8, '0')
  const templates = []
  for (const r of RESOURCES) {
    templates.push([`api.v1.namespaces.id.${r}`, () => `/api/v1/namespaces/${ns()}/${r}`])
    templates.push([`api.v1.namespaces.id.${r}.id`, () => `/api/v1/namespaces/${ns()}/${r}/${obj()}`])
    templates.push([`api.v1.${r}`, () => `/api/v1/${r}?limit=500`])
  }
  for (const r of ['issues', 'merge_requests', 'pipelines', 'jobs']) {
    templates.push([`api.v4.projects.id.${r}.id`, () => `/api/v4/projects/${int()}/${r}/${int()}`])
    templates.push([`api.v4.projects.id.${r}.id.notes`, () => `/api/v4/projects/${ns()}/${r}/${int()}/notes`])
  }
  for (const r of ['files', 'blobs', 'commits', 'trees']) templates.push([`repos.id.${r}.id`, () => `/repos/${obj()}/${r}/${hex()}`])
  return () => {
    const [ideal, make] = pick(templates)
    return { ideal, path: make() }
  }
}

const closed = (url) => ({ url, status: 200, explicitRoute: undefined, template: undefined, templateBase: '' })
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]

if (process.argv.includes('--shapes')) {
  byShape()
  process.exit(0)
}

// Check before timing: the namer learns this traffic.
{
  const next = traffic(1)
  const namer = createRouteNamer({ routes: [], maxRoutes: 1000 })
  const names = new Map()
  let agree = 0
  for (let i = 0; i < 50_000; i++) {
    const { ideal, path } = next()
    const name = namer.name(closed(path))
    if (name === ideal) agree++
    if (!names.has(ideal)) names.set(ideal, new Set())
    names.get(ideal).add(name)
  }
  const most = Math.max(...[...names.values()].map((s) => s.size))
  const share = (100 * agree / 50_000).toFixed(1)
  console.log(`check: ${share}% of 50,000 requests named as their template; at most ${most} names for one template`)
  if (agree < 47_500) throw new Error('the learning namer did not learn the generated traffic (under 95%): not timing it')
}

// 1. Cost per request at flush.
const N = 200_000
const batch = (seed) => {
  const next = traffic(seed)
  return Array.from({ length: N }, () => closed(next().path))
}
const contenders = {
  'learning namer (default)': () => { const n = createRouteNamer({ routes: [], maxRoutes: 1000 }); return (c) => n.name(c) },
  'learn: false (shapes only)': () => {
    const n = createRouteNamer({ routes: [], maxRoutes: 1000, learn: false })
    return (c) => n.name(c)
  },
  'normalizePath alone': () => (c) => normalizePath(c.url),
}
const warm = batch(2)
const measured = batch(3)
const times = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]))
for (let round = 0; round < 5; round++) {
  for (const [label, make] of Object.entries(contenders)) {
    const name = make()
    for (const c of warm) name(c)
    let sink = 0
    const started = process.hrtime.bigint()
    for (const c of measured) sink += name(c).length
    times[label].push(Number(process.hrtime.bigint() - started) / N)
    if (sink === 0) throw new Error('no names')
  }
}
const count = N.toLocaleString()
console.log(`\nflush-time cost per request, steady state (${count} warm-up requests, then ${count} timed; median of 5 interleaved rounds):`)
for (const [label, xs] of Object.entries(times)) {
  console.log(`  ${label.padEnd(28)} ${median(xs).toFixed(0).padStart(6)} ns   (rounds: ${xs.map((x) => x.toFixed(0)).join(', ')})`)
}

// 2 and 3. Memory.
function heldBy(fill) {
  globalThis.gc(); globalThis.gc()
  const before = process.memoryUsage().heapUsed
  const kept = fill()
  globalThis.gc(); globalThis.gc()
  const after = process.memoryUsage().heapUsed
  return { kept, bytes: after - before }
}
const mb = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`
{
  // The same 1M requests twice: once to count distinct paths, once (not holding them) into the model.
  const distinct = new Set()
  const again = traffic(4)
  for (let i = 0; i < 1_000_000; i++) distinct.add(again().path)
  const paths = distinct.size
  distinct.clear()
  const next = traffic(4)
  const { kept: model, bytes } = heldBy(() => {
    const model = createRouteModel()
    for (let i = 0; i < 1_000_000; i++) model.name(pathTokens(next().path))
    return model
  })
  const label = `1,000,000 requests of the generated traffic (${paths.toLocaleString()} distinct paths)`
  console.log(`\nmodel after ${label}: ${model.size} nodes, ${mb(bytes)} held`)
}
{
  // Worst case: words that never repeat below two fixed levels of 150 words each, so no rule fires and
  // every path adds nodes until the cap.
  const rng = xorshift(5)
  const word = () => SYLLABLES[Math.floor(rng() * 16)] + SYLLABLES[Math.floor(rng() * 16)] + SYLLABLES[Math.floor(rng() * 16)]
  const level = Array.from({ length: 150 }, (_, i) => `${word()}${i}`)
  const fresh = () => `${word()}${word()}${Math.floor(rng() * 1e6)}`
  const { kept: model, bytes } = heldBy(() => {
    const model = createRouteModel()
    for (let i = 0; i < 1_000_000; i++) {
      model.name([level[Math.floor(rng() * 150)], level[Math.floor(rng() * 150)], fresh(), fresh()])
    }
    return model
  })
  const perNode = (bytes / model.size).toFixed(0)
  const label = '1,000,000 paths of words that never repeat (nothing to learn)'
  console.log(`model after ${label}: ${model.size} nodes (cap ${DEFAULT_MAX_NODES}), ${mb(bytes)} held, ${perNode} bytes/node`)
}
byShape()

// 4. Per path shape: one learning namer warmed on all five shapes, then each shape timed on its own paths (fresh
// ids in every one), in interleaved rounds. Template literals make cons strings, which the walk would read
// through an indirection per character: each path is flattened first, as the HTTP parser's are.
function byShape() {
  const SHAPES = ['/a/users/<int>', '/a/orders/<uuid>', '/a/users/<int>/posts/<int>', '/a/pages/<word>', '/a/v2/items/<uuid>']
  const PER_SHAPE = 50_000
  const next = pathFactory('await20', 7)
  const paths = SHAPES.map(() => [])
  for (let i = 0; i < SHAPES.length * PER_SHAPE; i++) {
    paths[i % SHAPES.length].push(closed(Buffer.from(next(), 'latin1').toString('latin1')))
  }
  const builds = [['', createRouteNamer]]
  if (before !== undefined) builds.push([' (before)', require(`${before}/collect/route-namer.js`).createRouteNamer])
  const namers = builds.map(([, create]) => create({ routes: [], maxRoutes: 1000 }))
  for (const namer of namers) for (let round = 0; round < 3; round++) for (const list of paths) for (const c of list) namer.name(c)
  const times = namers.map(() => SHAPES.map(() => []))
  let sink = 0
  for (let round = 0; round < 9; round++) {
    paths.forEach((list, k) => {
      namers.forEach((namer, b) => {
        const started = process.hrtime.bigint()
        for (const c of list) sink += namer.name(c).length
        times[b][k].push(Number(process.hrtime.bigint() - started) / PER_SHAPE)
      })
    })
  }
  if (sink === 0) throw new Error('no names')
  console.log(`\nper path shape (${PER_SHAPE.toLocaleString()} paths each, fresh ids; median of 9 interleaved rounds):`)
  SHAPES.forEach((shape, k) => {
    const cells = builds.map(([label], b) => `${median(times[b][k]).toFixed(0).padStart(6)} ns${label}`).join('  ')
    console.log(`  ${shape.padEnd(28)} ${cells}   ${namers[0].name(paths[k][0])}`)
  })
}
