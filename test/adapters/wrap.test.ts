import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { once } from 'node:events'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { memorySink, metrics, withMetrics } from '../../src/index.js'
import { fetchText, listen } from '../support/http.js'
import { flushSink } from '../../src/pipeline/registry.js'

async function serve(listener: http.RequestListener, options: Parameters<typeof withMetrics>[1] = {}) {
  const sink = memorySink()
  const server = http.createServer(withMetrics(listener, { sink, ...options }))
  const handle = await listen(server)
  return { sink, ...handle }
}

test('records one record per request with route, method, status and the standard metrics', async () => {
  const { sink, url, close } = await serve((req, res) => {
    res.statusCode = req.url!.startsWith('/missing') ? 404 : req.url!.startsWith('/boom') ? 503 : 200
    res.end('x')
  })
  await fetchText(`${url}/users/42/posts?page=2`)
  await fetchText(`${url}/missing/7`)
  await fetchText(`${url}/boom`, { method: 'POST', body: 'a' })
  await flushSink(sink)
  await close()
  const [ok, missing, boom] = sink.records()
  assert.is(sink.records().length, 3)
  assert.equal([ok!.route, ok!.method, ok!.status, ok!.aborted], ['users.id.posts', 'GET', 200, false])
  assert.equal(ok!.counters, { Failure: 0, ClientError: 0, Aborted: 0 })
  assert.ok(ok!.timers.RequestTime! > 0 && ok!.timers.RequestTime! < 1000)
  assert.ok(ok!.timers.CpuTime! >= 0)
  assert.ok(Math.abs(ok!.timestamp - Date.now()) < 10_000)
  assert.equal([missing!.route, missing!.status, missing!.counters.ClientError, missing!.counters.Failure], ['unmatched', 404, 1, 0])
  assert.equal([boom!.route, boom!.method, boom!.counters.Failure, boom!.counters.ClientError], ['boom', 'POST', 1, 0])
})

test('RequestTime runs from entry to the response finish, including asynchronous work', async () => {
  const { sink, url, close } = await serve((_req, res) => {
    setTimeout(() => res.end('late'), 60)
  })
  await fetchText(`${url}/slow`)
  await flushSink(sink)
  await close()
  const [r] = sink.records()
  assert.ok(r!.timers.RequestTime! >= 55, `RequestTime ${r!.timers.RequestTime}`)
  assert.ok(r!.timers.RequestTime! < 1000)
})

test('records Aborted when the client hangs up before the response finished, never a success', async () => {
  let hungUp!: () => void
  const closed = new Promise<void>((resolve) => (hungUp = resolve))
  const { sink, port, close } = await serve((req, res) => {
    res.on('close', () => setImmediate(hungUp))
    void req
  })
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write('GET /orders/5 HTTP/1.1\r\nHost: x\r\n\r\n')
  await new Promise((r) => setTimeout(r, 30))
  socket.destroy()
  await closed
  await flushSink(sink)
  await close()
  const [r] = sink.records()
  assert.equal([r!.route, r!.aborted, r!.status, r!.counters.Aborted, r!.counters.Failure], ['orders.id', true, 0, 1, 0])
  assert.ok(r!.timers.RequestTime! >= 25)
})

test('a synchronous throw reaches the caller as the same error, with Failure recorded', async () => {
  const sink = memorySink()
  const boom = new Error('sync boom')
  const wrapped = withMetrics((_req: http.IncomingMessage, _res: http.ServerResponse) => {
    throw boom
  }, { sink })
  let caught: unknown
  const server = http.createServer((req, res) => {
    try {
      wrapped(req, res)
    } catch (error) {
      caught = error
      res.statusCode = 500
      res.end()
    }
  })
  const { url, close } = await listen(server)
  const { status } = await fetchText(`${url}/x`)
  await flushSink(sink)
  await close()
  assert.is(caught, boom)
  assert.is(status, 500)
  assert.is(sink.records()[0]!.counters.Failure, 1)
})

test('a rejected promise reaches the caller with the same reason, with Failure recorded even when the status is 200', async () => {
  const sink = memorySink()
  const boom = new Error('async boom')
  const wrapped = withMetrics(async (_req: http.IncomingMessage, res: http.ServerResponse) => {
    await new Promise((r) => setTimeout(r, 5))
    res.end('sent before failing')
    throw boom
  }, { sink })
  let caught: unknown
  const server = http.createServer((req, res) => {
    ;(wrapped(req, res) as Promise<unknown>).catch((error) => (caught = error))
  })
  const { url, close } = await listen(server)
  const { status } = await fetchText(`${url}/x`)
  await new Promise((r) => setTimeout(r, 20))
  await flushSink(sink)
  await close()
  assert.is(caught, boom)
  assert.is(status, 200)
  assert.is(sink.records()[0]!.counters.Failure, 1)
})

test('keeps `this` and the return value of the listener', async () => {
  let self: unknown
  const wrapped = withMetrics(function (this: unknown, _req: http.IncomingMessage, res: http.ServerResponse) {
    self = this
    res.end()
    return 'returned'
  }, { sink: memorySink() })
  const server = http.createServer()
  let returned: unknown
  server.on('request', function (this: http.Server, req, res) {
    returned = wrapped.call(this, req, res)
  })
  const { url, close } = await listen(server)
  await fetchText(url)
  await close()
  assert.is(self, server)
  assert.is(returned, 'returned')
})

test('exclude skips paths, patterns and predicates entirely', async () => {
  const { sink, url, close } = await serve((_req, res) => res.end(), {
    exclude: ['/health', /^\/internal\//],
  })
  await fetchText(`${url}/health?probe=1`)
  await fetchText(`${url}/internal/metrics`)
  await fetchText(`${url}/kept`)
  await flushSink(sink)
  await close()
  assert.equal(sink.records().map((r) => r.route), ['kept'])
})

test('exclude RegExps with g or y flags exclude every matching request; a throwing predicate measures the request', async () => {
  const { sink, url, close } = await serve((_req, res) => res.end(), { exclude: [/^\/health/g, /^\/ready/y] })
  for (let i = 0; i < 4; i++) await fetchText(`${url}/health`)
  for (let i = 0; i < 3; i++) await fetchText(`${url}/ready`)
  await fetchText(`${url}/kept`)
  await flushSink(sink)
  await close()
  assert.equal(sink.records().map((r) => r.route), ['kept'])
  const errors: Error[] = []
  const second = await serve((_req, res) => res.end('served'), {
    exclude: () => {
      throw new Error('predicate bug')
    },
    onError: (e) => errors.push(e),
  })
  const { text } = await fetchText(`${second.url}/a`)
  await flushSink(second.sink)
  await second.close()
  assert.is(text, 'served')
  assert.is(second.sink.records().length, 1)
  assert.equal(errors.map((e) => e.message), ['predicate bug'])
})

test('enabled: false keeps the wrapper in place and records nothing', async () => {
  const { sink, url, close } = await serve((_req, res) => res.end('still served'), { enabled: false })
  const { text } = await fetchText(`${url}/a`)
  await flushSink(sink)
  await close()
  assert.is(text, 'still served')
  assert.is(sink.records().length, 0)
})

test('ROUTEMETER_DISABLED in the environment disables it when the options do not say', async () => {
  process.env.ROUTEMETER_DISABLED = 'true'
  try {
    const { sink, url, close } = await serve((_req, res) => res.end())
    await fetchText(`${url}/a`)
    await flushSink(sink)
    await close()
    assert.is(sink.records().length, 0)
  } finally {
    delete process.env.ROUTEMETER_DISABLED
  }
})

test('default dimensions, prefix, and app dimensions end up on the record; unknown verbs become OTHER', async () => {
  const { sink, port, close } = await serve(
    (_req, res) => {
      metrics.dimension('tenant', 'acme')
      res.end()
    },
    { dimensions: { service: 'shop' }, prefix: 'eu' },
  )
  // node:http only parses known methods, so an unknown verb needs HTTP/2 (below); here a WebDAV verb stays as it is.
  const socket = net.connect(port, '127.0.0.1')
  socket.resume()
  socket.end('PROPFIND /dav HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  await once(socket, 'close')
  await flushSink(sink)
  await close()
  const [r] = sink.records()
  assert.equal(r!.dimensions, { service: 'shop', tenant: 'acme' })
  assert.is(r!.prefix, 'eu')
  assert.is(r!.method, 'PROPFIND')
})

test('works on the node:http2 compatibility API, unknown verbs included', async () => {
  const sink = memorySink()
  const server = http2.createServer(withMetrics((req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    res.statusCode = req.url.startsWith('/gone') ? 410 : 200
    res.end('h2')
  }, { sink }))
  const { port, close } = await listen(server)
  const session = http2.connect(`http://127.0.0.1:${port}`)
  const get = (path: string, method = 'GET') =>
    new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': path, ':method': method })
      let body = ''
      stream.setEncoding('utf8')
      stream.on('data', (d) => (body += d))
      stream.on('end', () => resolve(body))
      stream.on('error', reject)
      stream.end()
    })
  assert.is(await get('/items/123'), 'h2')
  await get('/gone/9')
  await get('/items/9', 'BREW')
  session.close()
  await flushSink(sink)
  await close()
  const routes = sink.records().map((r) => [r.route, r.method, r.status, r.aborted])
  assert.equal(routes, [
    ['items.id', 'GET', 200, false],
    ['gone.id', 'GET', 410, false],
    ['items.id', 'OTHER', 200, false],
  ])
})

test('an HTTP/2 stream the client cancels is Aborted, with status 0 when no headers were sent', async () => {
  const sink = memorySink()
  let handled = 0
  const server = http2.createServer(withMetrics((req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    handled++
    if (req.url === '/headers-first') res.writeHead(200)
    // never ends: the client cancels
  }, { sink }))
  const { port, close } = await listen(server)
  const session = http2.connect(`http://127.0.0.1:${port}`)
  for (const path of ['/silent', '/headers-first']) {
    const stream = session.request({ ':path': path })
    stream.on('error', () => {})
    stream.end()
    while (handled === (path === '/silent' ? 0 : 1)) await new Promise((r) => setTimeout(r, 5))
    await new Promise((r) => setTimeout(r, 20))
    stream.close(http2.constants.NGHTTP2_CANCEL)
    await new Promise((r) => setTimeout(r, 30))
  }
  session.close()
  for (const until = Date.now() + 3000; sink.records().length < 2 && Date.now() < until; ) {
    await flushSink(sink)
    await new Promise((r) => setTimeout(r, 10))
  }
  await close()
  const rows = sink.records().map((r) => [r.route, r.aborted, r.status, r.counters.Aborted, r.counters.Failure])
  assert.equal(rows, [
    ['silent', true, 0, 1, 0],
    ['headers-first', true, 200, 1, 0],
  ])
})

test('rejects a listener that is not a function with a TypeError', () => {
  assert.throws(() => withMetrics({} as never), (e: Error) => e instanceof TypeError && /withMetrics\(listener\)/.test(e.message))
})

test.run()
