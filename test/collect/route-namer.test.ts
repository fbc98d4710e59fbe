import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Collector } from '../../src/collect/collector.js'
import { offClock } from '../../src/collect/cpu-clock.js'
import { createRouteNamer, templateToName } from '../../src/collect/route-namer.js'
import { pathOf } from '../../src/util/url-path.js'
import { metrics } from '../../src/index.js'

function closed(url: string, status = 200, extra: Partial<Collector> = {}): Collector {
  const c = new Collector(offClock, null, url, 'GET', {}, 0)
  c.status = status
  return Object.assign(c, extra)
}

test('resolution order: explicit name, then template, then declared pattern, then the heuristic', () => {
  const namer = createRouteNamer({ routes: ['/users/:name'], maxRoutes: 100 })
  assert.is(namer.name(closed('/users/bob', 200, { explicitRoute: 'profile.show' })), 'profile.show')
  assert.is(namer.name(closed('/users/bob', 200, { template: '/people/:who' })), 'people.who')
  assert.is(namer.name(closed('/users/bob')), 'users.name')
  assert.is(namer.name(closed('/orders/77')), 'orders.id')
})

test('a 404 or 405 with no template, pattern or explicit name is unmatched; a declared one keeps its name', () => {
  const namer = createRouteNamer({ routes: ['/users/:name'], maxRoutes: 100 })
  assert.is(namer.name(closed('/wp-admin/setup.php', 404)), 'unmatched')
  assert.is(namer.name(closed('/x', 405)), 'unmatched')
  assert.is(namer.name(closed('/users/ghost', 404)), 'users.name')
  assert.is(namer.name(closed('/gone', 404, { template: '/gone' })), 'gone')
  assert.is(namer.name(closed('/x', 404, { explicitRoute: 'custom' })), 'custom')
})

test('past maxRoutes distinct names every new name is other, counted; admitted names keep working', () => {
  const before = metrics.stats().dropped.route ?? 0
  const namer = createRouteNamer({ routes: [], maxRoutes: 3 })
  const names = ['a', 'b', 'c', 'd', 'e', 'a'].map((p) => namer.name(closed(`/${p}`)))
  assert.equal(names, ['a', 'b', 'c', 'other', 'other', 'a'])
  assert.is((metrics.stats().dropped.route ?? 0) - before, 2)
})

test('paths are named the same whether their name was cached or not', () => {
  const namer = createRouteNamer({ routes: ['/users/:name'], maxRoutes: 100 })
  for (let round = 0; round < 3; round++) {
    assert.is(namer.name(closed('/pages/about')), 'pages.about')
    assert.is(namer.name(closed(`/orders/${round}`)), 'orders.id')
    assert.is(namer.name(closed('/users/bob')), 'users.name')
    assert.is(namer.name(closed('/users/bob', 404)), 'users.name')
    assert.is(namer.name(closed('/nothing/here', 404)), 'unmatched')
  }
})

test('Express mounts: the concrete base path goes through the id heuristic, the template is kept', () => {
  const namer = createRouteNamer({ routes: [], maxRoutes: 100 })
  assert.is(namer.name(closed('/', 200, { templateBase: '/api/users/42/posts', template: '/:postId' })), 'api.users.id.posts.postId')
  assert.is(namer.name(closed('/', 200, { templateBase: '/api/users', template: '/' })), 'api.users')
})

test('templateToName drops parameter markers and groups and replaces what a backend could misread', () => {
  const cases: Array<[string, string]> = [
    ['/users/:id', 'users.id'],
    ['/files/*path', 'files.path'],
    ['/a{/:b}', 'a.b'],
    ['/', 'root'],
    ['', 'root'],
    ['/weird name/x|y', 'weird_name.x_y'],
    ['/report.:format', 'report.format'],
    // Fastify's bare wildcard: dropped, `/files/*` and `/files` shared the name `files`.
    ['/files/*', 'files._'],
  ]
  for (const [template, name] of cases) assert.is(templateToName(template), name, template)
  assert.is(templateToName('shop.checkout step', '.'), 'shop.checkout_step')
})

test('pathOf strips query, fragment and the scheme and host of absolute-form targets', () => {
  assert.is(pathOf('/a/b?c=1#d'), '/a/b')
  assert.is(pathOf('/a#x?y'), '/a')
  assert.is(pathOf('http://example.com/x/y?z'), '/x/y')
  assert.is(pathOf('http://example.com'), '/')
  assert.is(pathOf('*'), '*')
})

test('learns plain-word parameters from the traffic when no template or pattern names the request', () => {
  const namer = createRouteNamer({ routes: [], maxRoutes: 100 })
  for (const node of ['worker-one', 'minikube', 'control-plane', 'gpu-node']) namer.name(closed(`/api/v1/nodes/${node}`))
  assert.is(namer.name(closed('/api/v1/nodes/edge-node')), 'api.v1.nodes.id')
  // Declared patterns still win over what the model learned.
  const declared = createRouteNamer({ routes: ['/api/v1/nodes/:name'], maxRoutes: 100 })
  assert.is(declared.name(closed('/api/v1/nodes/edge-node')), 'api.v1.nodes.name')
})

test('learn: false names unclaimed paths with normalizePath alone', () => {
  const namer = createRouteNamer({ routes: [], maxRoutes: 100, learn: false })
  for (const node of ['worker-one', 'minikube', 'control-plane', 'gpu-node', 'edge-node']) {
    assert.is(namer.name(closed(`/api/v1/nodes/${node}`)), `api.v1.nodes.${node}`)
  }
})

test('names minted before a position was learned give their place in the budget back', () => {
  const before = metrics.stats().dropped.route ?? 0
  const namer = createRouteNamer({ routes: [], maxRoutes: 5 })
  const early = ['worker-one', 'minikube', 'control-plane'].map((node) => namer.name(closed(`/nodes/${node}`)))
  assert.equal(early, ['nodes.worker-one', 'nodes.minikube', 'nodes.control-plane'])
  assert.is(namer.name(closed('/nodes/gpu-node')), 'nodes.id')
  // Four names admitted so far, three of them stale: four new routes still get their own names.
  const later = ['/health', '/ready', '/metrics', '/version'].map((path) => namer.name(closed(path)))
  assert.equal(later, ['health', 'ready', 'metrics', 'version'])
  assert.is((metrics.stats().dropped.route ?? 0) - before, 0)
  assert.is(namer.name(closed('/status')), 'other')
})

test('with the budget full, every name that went stale gives its place back', () => {
  const namer = createRouteNamer({ routes: [], maxRoutes: 120 })
  // 30 positions, each named by three values before the leaf rule learns it: 90 stale names and 30 `p<k>.id`.
  for (let k = 0; k < 30; k++) for (const v of ['alpha', 'beta', 'gamma', 'delta', 'epsilon']) namer.name(closed(`/p${k}/${v}`))
  const names = Array.from({ length: 100 }, (_, i) => namer.name(closed(`/q${i}`)))
  // Each new name sweeps on from where the last stopped: all 90 stale places are found, then the budget is full.
  assert.equal(names.slice(0, 90), Array.from({ length: 90 }, (_, i) => `q${i}`))
  assert.equal(names.slice(90), Array(10).fill('other'))
})

test('a sweep reads at most 64 names a call and goes on from there at the next new name', () => {
  const namer = createRouteNamer({ routes: [], maxRoutes: 94 })
  // 70 current names first, then 18 stale ones and 6 `p<k>.id` behind them: the budget is full.
  for (let i = 0; i < 70; i++) namer.name(closed(`/s${i}`))
  for (let k = 0; k < 6; k++) for (const v of ['alpha', 'beta', 'gamma', 'delta', 'epsilon']) namer.name(closed(`/p${k}/${v}`))
  // The first call reads 64 current names and frees nothing; the next one goes on to the stale ones.
  assert.equal(['/q0', '/q1', '/q2', '/q3'].map((path) => namer.name(closed(path))), ['other', 'q1', 'q2', 'q3'])
})

test('long paths and paths a parameterised pattern matched are not cached: the cache stays small in bytes', () => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const heap = (): number => { gc(); return process.memoryUsage().heapUsed }
  const namer = createRouteNamer({ routes: ['/users/:userId'], maxRoutes: 1000, learn: false })
  const long = 'x'.repeat(15_000)
  const before = heap()
  for (let i = 0; i < 1000; i++) {
    assert.is(namer.name(closed(`/users/${i}${long}`, 404)), 'users.userId')
    namer.name(closed(`/a/b/c/d/e/f/g/h/${i}${long}`))
  }
  const grown = heap() - before
  // Each of those paths was kept as a key: 2,000 × 15 KB.
  assert.ok(grown < 8e6, `the heap grew by ${(grown / 1e6).toFixed(1)} MB`)
})

test('unclaimed 404s teach the model nothing, so scanners cannot turn route words into ids', () => {
  const namer = createRouteNamer({ routes: [], maxRoutes: 100 })
  for (let i = 0; i < 50; i++) assert.is(namer.name(closed(`/admin/probe-${i}.php`, 404)), 'unmatched')
  assert.is(namer.name(closed('/admin/settings')), 'admin.settings')
  assert.is(namer.name(closed('/admin/users')), 'admin.users')
})

test('a route word requested twice stays a word once a parameter is learned beside it', () => {
  // The namer once cached `/customers/search` after its first request, so the second never reached the model,
  // which saw one request and took `search` for a value when `customers` was learned.
  const namer = createRouteNamer({ routes: [], maxRoutes: 100 })
  assert.is(namer.name(closed('/customers/search')), 'customers.search')
  assert.is(namer.name(closed('/customers/search')), 'customers.search')
  for (const who of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) {
    namer.name(closed(`/customers/${who}/orders`))
    namer.name(closed(`/customers/${who}/invoices`))
  }
  assert.is(namer.name(closed('/customers/zed/orders')), 'customers.id.orders')
  assert.is(namer.name(closed('/customers/search')), 'customers.search')
})

test('a path is named the same from the cache once its position is learned', () => {
  const namer = createRouteNamer({ routes: [], maxRoutes: 100 })
  assert.is(namer.name(closed('/nodes/worker-one')), 'nodes.worker-one')
  assert.is(namer.name(closed('/nodes/worker-one')), 'nodes.worker-one')
  for (const node of ['minikube', 'control-plane', 'gpu-node']) namer.name(closed(`/nodes/${node}`))
  assert.is(namer.name(closed('/nodes/worker-one')), 'nodes.id')
})

test.run()
