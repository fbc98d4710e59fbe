import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { once } from 'node:events'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { memorySink, metrics, withMetrics } from '../../src/index.js'
import { fetchText, listen } from '../support/http.js'
import { sleep, until } from '../support/eventually.js'
import { assertCpuTime, recorded } from '../support/records.js'
import { flushSink } from '../../src/pipeline/registry.js'

async function serve(listener: http.RequestListener, options: Parameters<typeof withMetrics>[1] = {}) {
  const sink = memorySink()
  const server = http.createServer(withMetrics(listener, { sink, ...options }))
  const handle = await listen(server)
  return { sink, ...handle }
}

/** A server whose listener calls `wrapped` and keeps the rejection its promise ends with. */
async function catching(wrapped: (req: http.IncomingMessage, res: http.ServerResponse) => unknown) {
  let caught: unknown
  const server = http.createServer((req, res) => {
    (wrapped(req, res) as Promise<unknown>).catch((error) => (caught = error))
  })
  return { ...(await listen(server)), caught: () => caught }
}

test('records one record per request with route, method, status and the standard metrics', async () => {
  const { sink, url, close } = await serve((req, res) => {
    res.statusCode = req.url!.startsWith('/missing') ? 404 : req.url!.startsWith('/boom') ? 503 : 200
    res.end('x')
  })
  const since = Date.now()
  const started = performance.now()
  await fetchText(`${url}/users/42/posts?page=2`)
  const clientMs = performance.now() - started
  await fetchText(`${url}/missing/7`)
  await fetchText(`${url}/boom`, { method: 'POST', body: 'a' })
  await recorded(sink, 3)
  const upTo = Date.now()
  await close()
  const [ok, missing, boom] = sink.records()
  assert.is(sink.records().length, 3)
  assert.equal([ok!.kind, ok!.prefix, ok!.route, ok!.method, ok!.status, ok!.aborted],
    ['request', '', 'users.id.posts', 'GET', 200, false])
  assert.equal(ok!.counters, { Failure: 0, ClientError: 0, Aborted: 0 })
  assert.equal(Object.keys(ok!.timers).sort(), ['CpuTime', 'RequestTime'])
  // The server's part of what the client waited for.
  assert.ok(ok!.timers.RequestTime! > 0 && ok!.timers.RequestTime! <= clientMs, `RequestTime ${ok!.timers.RequestTime} of ${clientMs} ms`)
  assertCpuTime(ok!)
  // Date.now() truncates to the ms and the record's stamp may lie up to 1 ms under the clock (util/wall-clock.ts).
  assert.ok(ok!.timestamp >= since - 1 && ok!.timestamp <= upTo, `timestamp ${ok!.timestamp} outside [${since} − 1, ${upTo}]`)
  assert.equal([missing!.route, missing!.status, missing!.counters.ClientError, missing!.counters.Failure], ['unmatched', 404, 1, 0])
  assert.equal([boom!.route, boom!.method, boom!.counters.Failure, boom!.counters.ClientError], ['boom', 'POST', 1, 0])
})

test('RequestTime runs from entry to the response finish, including asynchronous work', async () => {
  let handlerMs = 0
  // The 60 ms wait is the subject: asynchronous work between the listener's entry and res.end().
  const { sink, url, close } = await serve((_req, res) => {
    const entered = performance.now()
    setTimeout(() => {
      res.end('late')
      handlerMs = performance.now() - entered
    }, 60)
  })
  const started = performance.now()
  await fetchText(`${url}/slow`)
  const clientMs = performance.now() - started
  const [r] = await recorded(sink, 1)
  await close()
  // At least the listener's entry to its res.end(), at most what the client waited.
  const requestTime = r!.timers.RequestTime!
  assert.ok(handlerMs >= 50 && requestTime >= handlerMs && requestTime <= clientMs,
    `RequestTime ${requestTime}: handler ${handlerMs}, client ${clientMs}`)
})

test('records Aborted when the client hangs up before the response finished, never a success', async () => {
  let enteredAt = 0
  const { sink, port, close } = await serve(() => { enteredAt = performance.now() }) // never answers
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  const connectedAt = performance.now()
  socket.write('GET /orders/5 HTTP/1.1\r\nHost: x\r\n\r\n')
  await until(() => enteredAt > 0, 'the request to reach the listener')
  // The request stays open 30 ms: RequestTime must run to the hang-up, not stop at the listener's return.
  await sleep(30)
  const hungUpAt = performance.now()
  socket.destroy()
  const [r] = await recorded(sink, 1)
  const recordedAt = performance.now()
  await close()
  assert.equal([r!.route, r!.aborted, r!.status, r!.counters.Aborted, r!.counters.Failure], ['orders.id', true, 0, 1, 0])
  const requestTime = r!.timers.RequestTime!
  assert.ok(requestTime >= hungUpAt - enteredAt && requestTime <= recordedAt - connectedAt,
    `RequestTime ${requestTime}: open ${hungUpAt - enteredAt} ms, at most ${recordedAt - connectedAt} ms`)
})

test('a response the app destroys, or the server times out, is Aborted at that moment on HTTP/1', async () => {
  // HTTP/1 responses that do not finish are ended by their connection's 'close' (no listener per response):
  // both ways of ending one early must still record it, aborted, when it ends, not when something else happens.
  const destroyedAt: number[] = []
  const { sink, port, close } = await serve((req, res) => {
    if (req.url === '/destroy') {
      res.write('partial')
      setTimeout(() => { destroyedAt.push(performance.now()); res.destroy() }, 20)
    }
  })
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  const startedAt = performance.now()
  socket.write('GET /destroy HTTP/1.1\r\nHost: x\r\n\r\n')
  const [r] = await recorded(sink, 1)
  const recordedAt = performance.now()
  assert.equal([r!.route, r!.aborted, r!.status, r!.counters.Aborted], ['destroy', true, 200, 1])
  assert.ok(r!.timers.RequestTime! >= 19 && r!.timers.RequestTime! <= recordedAt - startedAt,
    `RequestTime ${r!.timers.RequestTime} ms: destroyed after 20 ms`)
  assert.is(destroyedAt.length, 1)
  await close()

  // Node destroys a socket idle past the server's `timeout` (no 'timeout' listener), a stuck request with it.
  const timedSink = memorySink()
  const server = http.createServer(withMetrics(() => {}, { sink: timedSink }))
  server.timeout = 30
  const timed = await listen(server)
  const stall = net.connect(timed.port, '127.0.0.1')
  stall.on('error', () => {})
  await once(stall, 'connect')
  const stallStarted = performance.now()
  stall.write('GET /stall HTTP/1.1\r\nHost: x\r\n\r\n')
  const [t] = await recorded(timedSink, 1)
  assert.equal([t!.route, t!.aborted, t!.status], ['stall', true, 0])
  assert.ok(t!.timers.RequestTime! >= 25 && t!.timers.RequestTime! <= performance.now() - stallStarted,
    `RequestTime ${t!.timers.RequestTime} ms: the socket timed out after 30 ms idle`)
  stall.destroy()
  await timed.close()
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
  const records = await recorded(sink, 1)
  await close()
  assert.is(caught, boom)
  assert.is(status, 500)
  assert.equal(records.map((r) => [r.route, r.status, r.counters.Failure]), [['x', 500, 1]])
})

test('a rejected promise reaches the caller with the same reason, with Failure recorded even when the status is 200', async () => {
  const sink = memorySink()
  const boom = new Error('async boom')
  // The listener awaits a timer first: the rejection comes from an asynchronous continuation, after res.end().
  const wrapped = withMetrics(async (_req: http.IncomingMessage, res: http.ServerResponse) => {
    await sleep(5)
    res.end('sent before failing')
    throw boom
  }, { sink })
  const { url, close, caught } = await catching(wrapped)
  const { status } = await fetchText(`${url}/x`)
  await until(() => caught() !== undefined, 'the rejection to reach the caller')
  const records = await recorded(sink, 1)
  await close()
  assert.is(caught(), boom)
  assert.is(status, 200)
  assert.equal(records.map((r) => [r.route, r.status, r.counters.Failure]), [['x', 200, 1]])
})

test('a rejection after the response ended is no Failure, whenever the record is built', async () => {
  const sink = memorySink()
  const boom = new Error('after the response')
  const wrapped = withMetrics(async (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.end('ok')
    await new Promise((resolve) => res.once('finish', resolve))
    await sleep(20)
    throw boom
  }, { sink })
  const { url, close, caught } = await catching(wrapped)
  await fetchText(`${url}/x`)
  // The record is built after the rejection: before, it then said Failure 1, and 0 when a flush came between.
  await until(() => caught() !== undefined, 'the rejection to reach the caller')
  const records = await recorded(sink, 1)
  await close()
  assert.is(caught(), boom)
  assert.equal(records.map((r) => [r.route, r.status, r.counters.Failure]), [['x', 200, 0]])
})

test("a listener's return value whose `then` cannot be read, or throws, goes back as it came", async () => {
  const sink = memorySink()
  const unreadable = new Proxy({}, { get() { throw new Error('no property of mine may be read') } })
  const throwing = { then() { throw new Error('then() throws') } }
  const returned: unknown[] = []
  let uncaught: unknown
  const onUncaught = (error: unknown) => { uncaught = error }
  process.on('uncaughtException', onUncaught)
  const wrapped = withMetrics((req: http.IncomingMessage, res: http.ServerResponse) => {
    res.end('ok')
    return req.url === '/unreadable' ? unreadable : throwing
  }, { sink })
  const server = http.createServer((req, res) => { returned.push(wrapped(req, res)) })
  const { url, close } = await listen(server)
  try {
    assert.is((await fetchText(`${url}/unreadable`)).status, 200)
    assert.is((await fetchText(`${url}/throwing`)).status, 200)
    const records = await recorded(sink, 2)
    assert.equal(records.map((r) => [r.route, r.counters.Failure]).sort(), [['throwing', 0], ['unreadable', 0]])
  } finally {
    await close()
    process.off('uncaughtException', onUncaught)
  }
  assert.is(uncaught, undefined)
  assert.is(returned[0], unreadable)
  assert.is(returned[1], throwing)
})

test('an idle keep-alive connection does not keep its last request and response alive', async () => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const sink = memorySink()
  const refs: Array<WeakRef<object>> = []
  const server = http.createServer(withMetrics((req, res) => {
    refs.push(new WeakRef(req), new WeakRef(res))
    res.end('ok')
  }, { sink }))
  const { port, close } = await listen(server)
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  let answer = ''
  socket.setEncoding('utf8')
  socket.on('data', (d: string) => { answer += d })
  socket.write('GET /x HTTP/1.1\r\nHost: x\r\n\r\n')
  try {
    await until(() => answer.endsWith('ok'), 'the response')
    await recorded(sink, 1)
    // The connection stays open and idle, as a keep-alive client leaves it between requests.
    await until(async () => {
      gc()
      await sleep(10)
      return refs.every((r) => r.deref() === undefined)
    }, 'the request and the response to be collected while their connection stays open', 3000)
  } finally {
    socket.destroy()
    await close()
  }
})

test('keeps `this` and the return value of the listener', async () => {
  let self: unknown
  const wrapped = withMetrics(function (this: unknown, _req: http.IncomingMessage, res: http.ServerResponse) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- what `this` is, is the subject of this test
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
  const records = await recorded(sink, 1)
  await close()
  assert.equal(records.map((r) => r.route), ['kept'])
})

test('exclude RegExps with g or y flags exclude every matching request; a throwing predicate measures the request', async () => {
  const { sink, url, close } = await serve((_req, res) => res.end(), { exclude: [/^\/health/g, /^\/ready/y] })
  for (let i = 0; i < 4; i++) await fetchText(`${url}/health`)
  for (let i = 0; i < 3; i++) await fetchText(`${url}/ready`)
  await fetchText(`${url}/kept`)
  const records = await recorded(sink, 1)
  await close()
  assert.equal(records.map((r) => r.route), ['kept'])
  const errors: Error[] = []
  const second = await serve((_req, res) => res.end('served'), {
    exclude: () => {
      throw new Error('predicate bug')
    },
    onError: (e) => errors.push(e),
  })
  const { text } = await fetchText(`${second.url}/a`)
  const measured = await recorded(second.sink, 1)
  await second.close()
  assert.is(text, 'served')
  assert.equal(measured.map((r) => r.route), ['a'])
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
  const [r] = await recorded(sink, 1)
  await close()
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
  const records = await recorded(sink, 3)
  await close()
  const routes = records.map((r) => [r.route, r.method, r.status, r.aborted])
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
  for (const [i, path] of ['/silent', '/headers-first'].entries()) {
    const stream = session.request({ ':path': path })
    stream.on('error', () => {})
    let headers = false
    stream.on('response', () => { headers = true })
    stream.end()
    await until(() => handled === i + 1, `${path} to reach the listener`)
    // /headers-first: the client has the 200 before it cancels, so the record's status is the one sent.
    if (path === '/headers-first') await until(() => headers, 'the response headers at the client')
    stream.close(http2.constants.NGHTTP2_CANCEL)
    await recorded(sink, i + 1)
  }
  session.close()
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
