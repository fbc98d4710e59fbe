import http from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import express from 'express'
import { connectMetrics, memorySink, withMetrics, type MemorySink } from '../../src/index.js'
import { fetchText, listen } from '../support/http.js'
import { recorded, recordsFor } from '../support/records.js'

/*
 * Express keeps the matched mount path in `req.baseUrl` (`/api/users/alice/posts`), not the pattern it was
 * mounted at (`/api/users/:id/posts`). Names must come from the patterns, whatever the parameter values
 * look like: words here, which the id heuristic keeps.
 */

/** Every router here answers with its req.params, so the tests also see that Express' params are unchanged. */
const echo: express.RequestHandler = (req, res) => { res.json(req.params) }

function buildApp(middleware?: express.RequestHandler) {
  const app = express()
  app.set('env', 'test')
  if (middleware) app.use(middleware)

  const merged = express.Router({ mergeParams: true })
  merged.get('/:postId', echo)
  const unmerged = express.Router()
  unmerged.get('/:postId', echo)
  app.use('/api/users/:id/posts', merged)
  app.use('/api/authors/:id/posts', unmerged)

  // Three levels, a parameter at each.
  const members = express.Router({ mergeParams: true })
  members.get('/members/:member', echo)
  const teams = express.Router({ mergeParams: true })
  teams.use('/teams/:team', members)
  app.use('/orgs/:org', teams)

  // No parameter in the mount.
  const status = express.Router()
  status.get('/status', echo)
  app.use('/internal/health-check', status)

  // One router at several paths: an array, and a second use().
  const shop = express.Router({ mergeParams: true })
  shop.get('/carts/:cart', echo)
  app.use(['/v1/shops/:shop', '/shops/:shop'], shop)
  app.use('/legacy', shop)
  return app
}

const requests: Array<[path: string, name: string, params: Record<string, string>]> = [
  ['/api/users/alice/posts/hello', 'api.users.id.posts.postId', { id: 'alice', postId: 'hello' }],
  ['/api/authors/alice/posts/hello', 'api.authors.id.posts.postId', { postId: 'hello' }],
  ['/orgs/acme/teams/core/members/bob', 'orgs.org.teams.team.members.member', { org: 'acme', team: 'core', member: 'bob' }],
  ['/internal/health-check/status', 'internal.health-check.status', {}],
  ['/v1/shops/corner/carts/blue', 'v1.shops.shop.carts.cart', { shop: 'corner', cart: 'blue' }],
  ['/shops/corner/carts/blue', 'shops.shop.carts.cart', { shop: 'corner', cart: 'blue' }],
  ['/legacy/carts/blue', 'legacy.carts.cart', { cart: 'blue' }],
  // Express matches mounts case-insensitively; the name is the pattern's.
  ['/API/Users/alice/posts/hello', 'api.users.id.posts.postId', { id: 'alice', postId: 'hello' }],
]

async function run(server: http.Server, sink: MemorySink) {
  const { url, close } = await listen(server)
  for (const [path, , params] of requests) {
    const res = await fetchText(url + path)
    assert.equal([res.status, JSON.parse(res.text)], [200, params], path)
  }
  const records = await recorded(sink, requests.length)
  await close()
  return records.map((r) => r.route)
}

test('connectMetrics names a route under a mounted router by the mount pattern, not the matched path', async () => {
  const sink = memorySink()
  assert.equal(await run(http.createServer(buildApp(connectMetrics({ sink }))), sink), requests.map(([, name]) => name))
})

test('withMetrics(expressApp) names mounts by their pattern too', async () => {
  const sink = memorySink()
  assert.equal(await run(http.createServer(withMetrics(buildApp(), { sink })), sink), requests.map(([, name]) => name))
})

test('a router mounted inside itself does not loop; the request is still named', async () => {
  const sink = memorySink()
  const app = express()
  app.use(connectMetrics({ sink }))
  const loop = express.Router()
  loop.get('/leaf/:leaf', echo)
  loop.use('/again/:n', loop)
  app.use('/loop/:start', loop)
  const records = await recordsFor(app, sink, ['/loop/a/leaf/b', '/loop/a/again/b/leaf/c'])
  assert.equal(records.map((r) => r.route), ['loop.start.leaf.leaf', 'loop.start.again.n.leaf.leaf'])
})

test('a RegExp mount keeps the matched path, named by the heuristic', async () => {
  const sink = memorySink()
  const app = express()
  app.use(connectMetrics({ sink }))
  const r = express.Router()
  r.get('/items/:item', echo)
  app.use(/^\/re\/(\d+)/, r)
  const records = await recordsFor(app, sink, ['/re/42/items/chair'])
  assert.equal(records.map((r) => r.route), ['re.id.items.item'])
})

test('without the patterns router 2.3 keeps (router 2.2 layers), the mount pattern is rebuilt from the match', async () => {
  const sink = memorySink()
  const app = buildApp(connectMetrics({ sink }))
  // router 2.2 keeps no raw path on its layers, only the matchers.
  const strip = (stack: Array<{ rawPath?: unknown, handle: { stack?: unknown } }>, seen = new Set<unknown>()): void => {
    for (const layer of stack) {
      delete layer.rawPath
      if (Array.isArray(layer.handle.stack) && !seen.has(layer.handle)) {
        seen.add(layer.handle)
        strip(layer.handle.stack, seen)
      }
    }
  }
  strip(app.router.stack as never)
  // The static parts are then the request's own: a case variant keeps its case, as the heuristic did.
  const expected = requests.map(([path, name]) => (path.startsWith('/API/Users') ? 'API.Users.id.posts.postId' : name))
  assert.equal(await run(http.createServer(app), sink), expected)
})

test('a router shared by two apps is walked once per app, not again on every request that alternates between them', async () => {
  const sink = memorySink()
  const shared = express.Router({ mergeParams: true })
  shared.get('/items/:item', echo)
  let walks = 0
  const servers = [express(), express()].map((app) => {
    app.use('/api/:version', shared)
    // A layer no request matches, whose handle only the mount walk reads: it counts the walks of this app.
    app.router.stack.push({ route: undefined, match: () => false, get handle() { walks++; return undefined } } as never)
    return http.createServer(withMetrics(app, { sink }))
  })
  const [a, b] = await Promise.all(servers.map((server) => listen(server)))
  for (let i = 0; i < 10; i++) {
    await fetchText(`${a!.url}/api/v1/items/${i}`)
    await fetchText(`${b!.url}/api/v2/items/${i}`)
  }
  const records = await recorded(sink, 20)
  await Promise.all([a!.close(), b!.close()])
  assert.equal(records.map((r) => r.route), Array(20).fill('api.version.items.item'))
  assert.is(walks, 2, 'one walk per app for 20 requests')
})

test.run()
