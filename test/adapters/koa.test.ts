import { test } from 'uvu'
import * as assert from 'uvu/assert'
import Koa from 'koa'
import Router from '@koa/router'
import { koaMetrics, memorySink, metrics, withMetrics } from '../../src/index.js'
import { fetchText, httpServer, listen } from '../support/http.js'
import { recorded, recordsFor } from '../support/records.js'
import { flushSink } from '../../src/pipeline/registry.js'

function buildApp(middleware?: Koa.Middleware) {
  const app = new Koa()
  app.silent = true
  if (middleware) app.use(middleware)
  const users = new Router()
  users.get('/:id', (ctx) => {
    metrics.count('user.lookups')
    ctx.body = { id: ctx.params.id }
  })
  users.get('/:id/secret', (ctx) => ctx.throw(403, 'no'))
  const api = new Router({ prefix: '/api' })
  api.use('/users', users.routes(), users.allowedMethods())
  api.get('/crash', () => {
    throw new Error('handler bug')
  })
  app.use(api.routes()).use(api.allowedMethods())
  return app
}

test('koaMetrics names requests by the matched route, nested routers included', async () => {
  const sink = memorySink()
  const { url, close } = await listen(httpServer(buildApp(koaMetrics({ sink }) as Koa.Middleware).callback()))
  const ok = await fetchText(`${url}/api/users/3F2504E0-4F89-11D3-9A0C-0305E82C3301`)
  await fetchText(`${url}/api/users/7/secret`)
  await fetchText(`${url}/api/crash`)
  await fetchText(`${url}/nope/123`)
  const records = await recorded(sink, 4)
  await close()
  assert.is(ok.status, 200)
  const rows = records.map((r) => [r.route, r.status, r.counters.Failure, r.counters.ClientError])
  assert.equal(rows, [
    ['api.users.id', 200, 0, 0],
    ['api.users.id.secret', 403, 0, 1],
    ['api.crash', 500, 1, 0],
    ['unmatched', 404, 0, 1],
  ])
  assert.is(records[0]!.counters['user.lookups'], 1)
})

test('koaMetrics re-throws downstream errors unchanged, so Koa answers exactly as without it', async () => {
  const seen: string[][] = [[], []]
  const bare = buildApp()
  const wrapped = buildApp(koaMetrics({ sink: memorySink() }) as Koa.Middleware)
  bare.on('error', (error: Error) => seen[0]!.push(error.message))
  wrapped.on('error', (error: Error) => seen[1]!.push(error.message))
  const a = await listen(httpServer(bare.callback()))
  const b = await listen(httpServer(wrapped.callback()))
  for (const path of ['/api/crash', '/api/users/1/secret', '/api/users/1']) {
    const [x, y] = await Promise.all([fetchText(a.url + path), fetchText(b.url + path)])
    assert.equal([y.status, y.text, y.headers['content-type']], [x.status, x.text, x.headers['content-type']], path)
  }
  await a.close()
  await b.close()
  // Koa's own 'error' events are the same errors, in the same order.
  assert.equal(seen[0], ['handler bug', 'no'])
  assert.equal(seen[1], seen[0])
})

test('a middleware that throws after the response ended is no Failure, as with withMetrics', async () => {
  const sink = memorySink()
  const app = new Koa()
  app.silent = true
  let thrown = false
  app.use(koaMetrics({ sink }) as Koa.Middleware)
  app.use(async (ctx) => {
    ctx.respond = false
    ctx.res.statusCode = 200
    ctx.res.end('ok')
    await new Promise((resolve) => ctx.res.once('finish', resolve))
    await new Promise((resolve) => setTimeout(resolve, 20))
    thrown = true
    throw new Error('after the response')
  })
  const { url, close } = await listen(httpServer(app.callback()))
  let status: number
  let records: Awaited<ReturnType<typeof recorded>>
  try {
    status = (await fetchText(`${url}/late`)).status
    await new Promise((resolve) => setTimeout(resolve, 50))
    // Built after the throw: before, the record then said Failure 1, and 0 when a flush came in between.
    records = await recorded(sink, 1)
  } finally {
    await close()
  }
  assert.is(status, 200)
  assert.ok(thrown)
  assert.equal(records.map((r) => [r.status, r.counters.Failure]), [[200, 0]])
})

test('withMetrics(app.callback()) measures a Koa app too, and koaMetrics inside it adds the template without double counting', async () => {
  const sink = memorySink()
  const plain = memorySink()
  const inner = memorySink()
  const measured = buildApp(koaMetrics({ sink: inner }) as Koa.Middleware).callback()
  const alone = await recordsFor(withMetrics(buildApp().callback(), { sink: plain }), plain, ['/api/users/42'])
  const both = await recordsFor(withMetrics(measured, { sink }), sink, ['/api/users/42'])
  assert.equal(alone.map((r) => r.route), ['api.users.id'])
  assert.equal(both.map((r) => r.route), ['api.users.id'])
  await flushSink(inner)
  assert.is(inner.records().length, 0, 'inside withMetrics, koaMetrics only names the request')
})

test.run()
