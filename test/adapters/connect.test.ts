import http from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import connect from 'connect'
import express from 'express'
import { connectMetrics, memorySink, metrics, withMetrics } from '../../src/index.js'
import { fetchText, listen } from '../support/http.js'
import { recorded, recordsFor } from '../support/records.js'

function expressApp(middleware?: express.RequestHandler) {
  const app = express()
  app.set('env', 'test') // no stack traces from Express' final handler in the test output
  if (middleware) app.use(middleware)
  const users = express.Router()
  users.get('/:id', (req, res) => {
    metrics.timing('render', 1.5)
    res.json({ id: req.params.id })
  })
  const posts = express.Router({ mergeParams: true })
  posts.get('/:postId', (_req, res) => res.status(204).end())
  users.use('/:id/posts', posts)
  app.use('/api/users', users)
  app.get('/fail', async () => {
    throw new Error('express 5 catches this')
  })
  return app
}

test('connectMetrics on Express names requests by baseUrl + route path, nested routers included', async () => {
  const sink = memorySink()
  const { url, close } = await listen(http.createServer(expressApp(connectMetrics({ sink }))))
  await fetchText(`${url}/api/users/42`)
  await fetchText(`${url}/api/users/42/posts/7`)
  await fetchText(`${url}/fail`)
  await fetchText(`${url}/api/nothing/5`)
  const records = await recorded(sink, 4)
  await close()
  const rows = records.map((r) => [r.route, r.status, r.counters.Failure])
  assert.equal(rows, [
    ['api.users.id', 200, 0],
    ['api.users.id.posts.postId', 204, 0],
    ['fail', 500, 1],
    ['unmatched', 404, 0],
  ])
  assert.is(records[0]!.timers.render, 1.5)
})

test('withMetrics(expressApp) reads the same templates without the middleware', async () => {
  const sink = memorySink()
  const records = await recordsFor(withMetrics(expressApp(), { sink }), sink, ['/api/users/42/posts/7'])
  assert.equal(records.map((r) => r.route), ['api.users.id.posts.postId'])
})

test('connectMetrics on plain Connect uses the routes patterns, then the heuristic', async () => {
  const sink = memorySink()
  const app = connect()
  app.use(connectMetrics({ sink, routes: ['/shop/:shop/cart'] }))
  app.use('/shop', (_req: http.IncomingMessage, res: http.ServerResponse) => res.end('cart'))
  app.use((_req: http.IncomingMessage, res: http.ServerResponse) => res.end('other'))
  const records = await recordsFor(app, sink, ['/shop/acme-store/cart', '/files/2024-01-31/report'])
  assert.equal(records.map((r) => r.route), ['shop.shop.cart', 'files.id.report'])
})

test('a metric recorded deep in the async flow of a Connect request lands on that request', async () => {
  const sink = memorySink()
  const app = connect()
  app.use(connectMetrics({ sink }))
  app.use((req: http.IncomingMessage, res: http.ServerResponse) => {
    // A timer, then a promise: the metric is recorded two asynchronous hops away from the request's own callback.
    setTimeout(() => {
      void Promise.resolve().then(() => {
        metrics.count('deep', Number(req.url!.slice(1)))
        res.end()
      })
    }, 5)
  })
  const { url, close } = await listen(http.createServer(app))
  await Promise.all([fetchText(`${url}/3`), fetchText(`${url}/4`)])
  const records = await recorded(sink, 2)
  await close()
  const deep = records.map((r) => r.counters.deep).sort()
  assert.equal(deep, [3, 4])
})

test.run()
