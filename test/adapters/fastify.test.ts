import http from 'node:http'
import net from 'node:net'
import { once } from 'node:events'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import Fastify, { type FastifyInstance } from 'fastify'
import { fastifyMetrics, memorySink, metrics, withMetrics, type MetricsOptions } from '../../src/index.js'
import { exchange, fetchText } from '../support/http.js'
import { assertCpuTime, recorded } from '../support/records.js'
import { sleep, until } from '../support/eventually.js'
import { flushSink } from '../../src/pipeline/registry.js'

/** How long the last /raw request took from its handler's entry to its raw res.end(). */
let rawMs = 0

/** A small app: plain and prefixed routes, a regex parameter, errors, a hijacked reply, a JSON body. */
function buildApp(options?: MetricsOptions, configure?: (app: FastifyInstance) => void): FastifyInstance {
  const app = Fastify()
  if (options !== undefined) app.register(fastifyMetrics(options))
  configure?.(app)
  app.get('/users/:id', async (request) => {
    metrics.count('user.lookups')
    return { id: (request.params as { id: string }).id }
  })
  app.get('/items/:id(^\\d+)', async () => 'item')
  app.register(async (api) => {
    api.get('/orders/:orderId', async () => ({ ok: true }))
    api.get('/sync-throw', () => {
      throw new Error('sync handler bug')
    })
    api.get('/async-throw', async () => {
      throw new Error('async handler bug')
    })
    api.get('/bad-input', async () => {
      throw Object.assign(new Error('bad input'), { statusCode: 400 })
    })
  }, { prefix: '/api' })
  app.get('/raw', (_request, reply) => {
    const entered = performance.now()
    reply.hijack()
    metrics.count('hijacked')
    // Answered later, outside Fastify's reply: the record must wait for the raw response's end.
    setTimeout(() => {
      reply.raw.writeHead(200, { 'content-type': 'text/plain' })
      reply.raw.end('raw')
      rawMs = performance.now() - entered
    }, 5)
  })
  app.post('/echo', async (request) => {
    const body = request.body as { n: number }
    metrics.count('echoed', body.n)
    return body
  })
  return app
}

async function start(app: FastifyInstance): Promise<{ url: string, port: number, close(): Promise<void> }> {
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { url, port: Number(new URL(url).port), close: () => app.close() }
}

test('fastifyMetrics names requests by the route template, prefixes of plugins registered after it included', async () => {
  const sink = memorySink()
  const app = buildApp({ sink })
  const { url, close } = await start(app)
  const ok = await fetchText(`${url}/users/alice`)
  await fetchText(`${url}/api/orders/7`)
  await fetchText(`${url}/items/12`)
  await fetchText(`${url}/nope/123`)
  await fetchText(`${url}/users/alice`, { method: 'DELETE' })
  await close()
  assert.is(ok.text, '{"id":"alice"}')
  const rows = (await recorded(sink, 5)).map((r) => [r.route, r.method, r.status, r.counters.ClientError])
  assert.equal(rows, [
    ['users.id', 'GET', 200, 0],
    ['api.orders.orderId', 'GET', 200, 0],
    ['items.id', 'GET', 200, 0],
    // Fastify's 404 (unknown path, or a known path with a method it has no route for) is claimed by nothing
    ['unmatched', 'GET', 404, 1],
    ['unmatched', 'DELETE', 404, 1],
  ])
  assert.is(sink.records()[0]!.counters['user.lookups'], 1)
})

test('records the standard metrics, with the dimensions and prefix options', async () => {
  const sink = memorySink()
  const { url, close } = await start(buildApp({ sink, prefix: 'shop', dimensions: { service: 'api' } }))
  const started = performance.now()
  await fetchText(`${url}/users/42`)
  const clientMs = performance.now() - started
  await close()
  const [r] = await recorded(sink, 1)
  assert.equal([r!.prefix, r!.route, r!.method, r!.status, r!.dimensions], ['shop', 'users.id', 'GET', 200, { service: 'api' }])
  assert.equal(r!.counters, { 'user.lookups': 1, Failure: 0, ClientError: 0, Aborted: 0 })
  assert.equal(Object.keys(r!.timers).sort(), ['CpuTime', 'RequestTime'])
  assert.ok(r!.timers.RequestTime! > 0 && r!.timers.RequestTime! <= clientMs, `RequestTime ${r!.timers.RequestTime} of ${clientMs} ms`)
  assertCpuTime(r!)
})

test('an error thrown by a sync or an async handler reaches Fastify\'s error handler unchanged, with Failure recorded', async () => {
  const sink = memorySink()
  const seen: unknown[] = []
  const app = buildApp({ sink }, (app) => {
    app.setErrorHandler((error, _request, reply) => {
      seen.push(error)
      reply.code((error as { statusCode?: number }).statusCode ?? 500).send({ error: (error as Error).message })
    })
  })
  const { url, close } = await start(app)
  const sync = await fetchText(`${url}/api/sync-throw`)
  const async = await fetchText(`${url}/api/async-throw`)
  const client = await fetchText(`${url}/api/bad-input`)
  await close()
  assert.equal([sync.status, sync.text], [500, '{"error":"sync handler bug"}'])
  assert.equal([async.status, async.text], [500, '{"error":"async handler bug"}'])
  assert.is(client.status, 400)
  // The very objects the handlers threw, not wrappers.
  assert.equal(seen.map((e) => [(e as Error).constructor, (e as Error).message]), [
    [Error, 'sync handler bug'], [Error, 'async handler bug'], [Error, 'bad input'],
  ])
  const rows = (await recorded(sink, 3)).map((r) => [r.route, r.status, r.counters.Failure, r.counters.ClientError])
  assert.equal(rows, [
    ['api.sync-throw', 500, 1, 0],
    ['api.async-throw', 500, 1, 0],
    ['api.bad-input', 400, 0, 1],
  ])
})

test('a hijacked reply is recorded once, when its raw response ends, with metrics from the handler', async () => {
  const sink = memorySink()
  const { url, close } = await start(buildApp({ sink }))
  const res = await fetchText(`${url}/raw`)
  assert.equal([res.status, res.text], [200, 'raw'])
  await fetchText(`${url}/users/1`) // a later request: the hijacked one is not recorded again when it flushes
  await close()
  await recorded(sink, 2)
  await flushSink(sink) // and once more: the hijacked request is not recorded again
  const all = sink.records()
  assert.equal(all.map((r) => [r.route, r.status, r.counters.hijacked]), [['raw', 200, 1], ['users.id', 200, undefined]])
  // From before the handler to the raw response's end: at least the handler's part of it.
  const requestTime = all[0]!.timers.RequestTime!
  assert.ok(rawMs >= 4 && requestTime >= rawMs, `RequestTime ${requestTime} for a reply ended after ${rawMs} ms`)
})

test('metrics.count works in async onRequest and preHandler hooks and after Fastify parsed a request body', async () => {
  const sink = memorySink()
  const app = buildApp({ sink }, (app) => {
    app.addHook('onRequest', async (request) => {
      await sleep(1) // a timer between the hook's start and its metric: the request's context must survive it
      metrics.count('hook.onRequest', Number(request.headers['x-n'] ?? 0))
    })
    app.addHook('preHandler', async (request) => {
      await Promise.resolve()
      metrics.count('hook.preHandler', Number(request.headers['x-n'] ?? 0))
    })
  })
  const { url, close } = await start(app)
  // Concurrent requests, so a metric landing on the wrong request (or on none) shows.
  const replies = await Promise.all([1, 2, 3].map((n) => fetchText(`${url}/echo`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-n': String(n) }, body: JSON.stringify({ n }),
  })))
  await close()
  assert.equal(replies.map((r) => r.text), ['{"n":1}', '{"n":2}', '{"n":3}'])
  const rows = (await recorded(sink, 3))
    .map((r) => [r.route, r.counters['hook.onRequest'], r.counters['hook.preHandler'], r.counters.echoed])
    .sort((a, b) => (a[1] as number) - (b[1] as number))
  assert.equal(rows, [['echo', 1, 1, 1], ['echo', 2, 2, 2], ['echo', 3, 3, 3]])
})

test('metrics.count in the handler lands on its request when the body arrives after the headers, in its own packets', async () => {
  const sink = memorySink()
  let headersSeen!: () => void
  const seen = new Promise<void>((resolve) => (headersSeen = resolve))
  const app = buildApp({ sink }, (app) => {
    app.addHook('onRequest', (_request, _reply, done) => {
      headersSeen()
      done()
    })
  })
  const { port, close } = await start(app)
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n')
  // The body is read in the socket's own callbacks, which carry no request context (Fastify resumes it).
  await seen
  socket.write('{"n":4}')
  let received = ''
  socket.on('data', (d: Buffer) => (received += d.toString()))
  await once(socket, 'close')
  await close()
  assert.match(received, /\{"n":4\}$/)
  const [r] = await recorded(sink, 1)
  assert.equal([r!.route, r!.status, r!.counters.echoed], ['echo', 200, 4])
})

test('records Aborted when the client hangs up before the reply, never a success', async () => {
  const sink = memorySink()
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  let entered!: () => void
  const handlerEntered = new Promise<void>((resolve) => (entered = resolve))
  const app = buildApp({ sink }, (app) => {
    app.get('/slow/:id', async () => {
      entered()
      await released
      return 'late'
    })
  })
  const { port, close } = await start(app)
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write('GET /slow/5 HTTP/1.1\r\nHost: x\r\n\r\n')
  await handlerEntered
  socket.destroy()
  const [r] = await recorded(sink, 1)
  release()
  await close()
  assert.equal([r!.route, r!.aborted, r!.status, r!.counters.Aborted, r!.counters.Failure], ['slow.id', true, 0, 1, 0])
})

test('with enabled: false the plugin adds no hook and records nothing', async () => {
  const hooksOf = async (options: MetricsOptions) => {
    const app = Fastify()
    app.register(fastifyMetrics(options))
    app.get('/users/:id', async () => 'x')
    await app.ready()
    const lines = app.printRoutes({ includeHooks: true }).split('\n').filter((line) => line.includes('(onRequest)'))
    return [...new Set(lines.map((line) => line.trim()))]
  }
  assert.equal(await hooksOf({ sink: memorySink() }), ['• (onRequest) ["onRequest()"]'])
  assert.equal(await hooksOf({ sink: memorySink(), enabled: false }), [])
  const sink = memorySink()
  const { url, close } = await start(buildApp({ sink, enabled: false }))
  await fetchText(`${url}/users/1`)
  await flushSink(sink)
  await close()
  assert.is(sink.records().length, 0)
})

test('inside withMetrics (a serverFactory) the request is recorded once, with the Fastify template', async () => {
  const sink = memorySink()
  const inner = memorySink()
  const app = Fastify({ serverFactory: (handler) => http.createServer(withMetrics(handler, { sink })) })
  app.register(fastifyMetrics({ sink: inner }))
  app.get('/users/:id', async () => {
    metrics.count('inner')
    return 'x'
  })
  const { url, close } = await start(app)
  await fetchText(`${url}/users/alice`)
  await close()
  assert.equal((await recorded(sink, 1)).map((r) => [r.route, r.counters.inner]), [['users.id', 1]])
  await flushSink(inner)
  assert.is(inner.records().length, 0)
})

test('a Fastify app with the plugin answers byte for byte like one without it', async () => {
  const sink = memorySink()
  const bare = await start(buildApp())
  const measured = await start(buildApp({ sink }))
  const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`
  const scenarios: Record<string, string> = {
    'a JSON route': get('/users/alice'),
    'a 404': get('/nope/1'),
    'an async handler error': get('/api/async-throw'),
    'a client error': get('/api/bad-input'),
    'a hijacked reply': get('/raw'),
    'a HEAD request': 'HEAD /users/alice HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    'a JSON body': 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\n' +
      'Connection: close\r\n\r\n{"n":5}',
    'a malformed URL, answered before routing': get('/users/%zz'),
  }
  for (const [name, raw] of Object.entries(scenarios)) {
    const [expected, actual] = await Promise.all([exchange(bare.port, raw), exchange(measured.port, raw)])
    assert.ok(expected.startsWith('HTTP/1.1 '), `${name}: the bare app answered ${JSON.stringify(expected.slice(0, 40))}`)
    assert.is(actual, expected, name)
  }
  await bare.close()
  await measured.close()
  const records = await recorded(sink, 8)
  assert.equal(records.map((r) => [r.method, r.route, r.status]), [
    ['GET', 'users.id', 200], ['GET', 'unmatched', 404], ['GET', 'api.async-throw', 500], ['GET', 'api.bad-input', 400],
    ['GET', 'raw', 200], ['HEAD', 'users.id', 200], ['POST', 'echo', 200], ['GET', 'unmatched', 400],
  ])
})

test('a request arriving while Fastify closes gets its 503 and is recorded as a Failure, named from its path', async () => {
  const sink = memorySink()
  const app = Fastify()
  app.register(fastifyMetrics({ sink }))
  app.get('/slow/:id', async () => {
    await sleep(150)
    return 'slow'
  })
  const { port } = await start(app)
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  let received = ''
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => { received += chunk })
  socket.write('GET /slow/1 HTTP/1.1\r\nHost: x\r\n\r\n')
  await sleep(30)
  // The connection is busy, so close() keeps it; the next request on it reaches Fastify, which is closing.
  const closing = app.close()
  await sleep(20)
  socket.write('GET /slow/2 HTTP/1.1\r\nHost: x\r\n\r\n')
  await until(() => (received.match(/HTTP\/1\.1 /g) ?? []).length === 2, 'two answers')
  socket.destroy()
  await closing
  assert.equal(received.match(/HTTP\/1\.1 \d+/g), ['HTTP/1.1 200', 'HTTP/1.1 503'])
  const records = await recorded(sink, 2)
  assert.equal(records.map((r) => [r.route, r.status, r.counters.Failure]).sort(), [['slow.id', 200, 0], ['slow.id', 503, 1]])
})

test('requests Fastify answers before any hook (malformed URL, a parameter over maxParamLength) are recorded as unmatched', async () => {
  const sink = memorySink()
  const app = Fastify({ routerOptions: { maxParamLength: 20 } })
  app.register(fastifyMetrics({ sink }))
  app.get('/users/:id', async () => 'x')
  const { port, close } = await start(app)
  const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`
  const answers = []
  for (const path of ['/users/%zz', `/users/${'1'.repeat(30)}`, '/users/%', '/users/7']) answers.push(await exchange(port, get(path)))
  await close()
  assert.equal(answers.map((a) => a.slice(0, 12)), ['HTTP/1.1 400', 'HTTP/1.1 414', 'HTTP/1.1 400', 'HTTP/1.1 200'])
  // Before, only the last was recorded: the router's rejects ran no hook, and a scanner's 400s were not in ClientError.
  const records = await recorded(sink, 4)
  assert.equal(records.map((r) => [r.route, r.status, r.counters.ClientError, r.aborted]), [
    ['unmatched', 400, 1, false], ['unmatched', 414, 1, false], ['unmatched', 400, 1, false], ['users.id', 200, 0, false],
  ])
  for (const r of records) assert.ok(r.timers.RequestTime! >= 0 && r.timers.RequestTime! < 1000, `RequestTime ${r.timers.RequestTime}`)
})

test.run()
