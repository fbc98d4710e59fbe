import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { once } from 'node:events'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { connectMetrics, memorySink, metrics, withMetrics, type MetricRecord } from '../../src/index.js'
import { runAsRequest } from '../../src/adapters/run-as-request.js'
import { Collector } from '../../src/collect/collector.js'
import { requestContext } from '../../src/collect/context.js'
import { offClock } from '../../src/collect/cpu-clock.js'
import { fetchText, listen } from '../support/http.js'
import { until } from '../support/eventually.js'
import { recorded } from '../support/records.js'

// Which request's context code runs in, at the edges. On Node 24 the wrapper enters a request's context and
// leaves it to Node to put the previous one back when the callback that emitted the request returns; before,
// it sets and restores it (adapters/run-as-request.ts). These tests pin what must hold either way: the first
// two fail on Node 20 when the wrapper enters without restoring there.

type Listener = (req: IncomingMessage, res: ServerResponse) => void

/** What an excluded `/health` listener saw: the store when called, and in a callback it scheduled. */
interface Seen { sync: unknown, later: unknown }

/** A listener answering every request at once; `/health` notes the store it runs with and counts a metric. */
function noting(seen: Seen[]): Listener {
  return (req, res) => {
    if (req.url === '/health') {
      const entry: Seen = { sync: requestContext.getStore(), later: 'not yet' }
      seen.push(entry)
      metrics.count('health.hit')
      setImmediate(() => { entry.later = requestContext.getStore() })
    }
    res.end('ok')
  }
}

/** Writes `first` then `/health` to `port` in one packet (pipelined), and waits for both answers. */
async function pipelined(port: number, first: string): Promise<void> {
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  let answers = ''
  socket.on('data', (chunk: Buffer) => { answers += chunk.toString('latin1') })
  socket.write(`GET ${first} HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n`)
  await until(() => (answers.match(/HTTP\/1\.1 200/g) ?? []).length === 2, 'both pipelined answers')
  socket.destroy()
}

const excludeHealth = (req: { url?: string }): boolean => req.url === '/health'

/**
 * Waits for the measured request's record and the excluded one's `setImmediate`, closes, and checks that the
 * excluded request ran outside the measured one: no store, and nothing counted into it. Returns the record.
 */
async function assertHealthRanOutside(
  sink: ReturnType<typeof memorySink>, seen: Seen[], close: () => Promise<void>,
): Promise<MetricRecord> {
  const [order] = await recorded(sink, 1)
  await until(() => seen[0]?.later !== 'not yet', 'the /health listener’s setImmediate')
  await close()
  assert.equal(seen, [{ sync: undefined, later: undefined }])
  assert.is(order!.counters['health.hit'], undefined, 'the excluded request counted into the measured one')
  return order!
}

test('withMetrics: an excluded request pipelined behind a measured one in the same packet runs outside it', async () => {
  const sink = memorySink()
  const seen: Seen[] = []
  const { port, close } = await listen(http.createServer(withMetrics(noting(seen), { sink, exclude: excludeHealth })))
  await pipelined(port, '/orders/1')
  const order = await assertHealthRanOutside(sink, seen, close)
  assert.is(order.route, 'orders.id')
})

test('connectMetrics: the same, for a middleware in front of the app', async () => {
  const sink = memorySink()
  const seen: Seen[] = []
  const middleware = connectMetrics({ sink, exclude: excludeHealth })
  const app = noting(seen)
  const { port, close } = await listen(http.createServer((req, res) => middleware(req, res, () => app(req, res))))
  await pipelined(port, '/orders/2')
  await assertHealthRanOutside(sink, seen, close)
})

test('node:http2: an excluded stream sent together with a measured one on a session runs outside it', async () => {
  const sink = memorySink()
  const seen: Seen[] = []
  type Http2Listener = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void
  const server = http2.createServer(withMetrics(noting(seen) as unknown as Http2Listener, { sink, exclude: excludeHealth }))
  const { url, close } = await listen(server)
  const session = http2.connect(url)
  const get = (path: string): Promise<void> => new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path })
    stream.on('error', reject)
    stream.resume()
    stream.on('end', resolve)
  })
  // Both requests leave in one write of the session: their HEADERS frames are read in one callback.
  await Promise.all([get('/orders/3'), get('/health')])
  await assertHealthRanOutside(sink, seen, () => {
    session.close()
    return close()
  })
})

test('a measured request’s context reaches its own callbacks, and the next request on the connection starts without it', async () => {
  const sink = memorySink()
  const seen: Seen[] = []
  let own: { sync: unknown, later: unknown } | undefined
  const health = noting(seen)
  const listener: Listener = (req, res) => {
    if (req.url === '/health') return health(req, res)
    own = { sync: requestContext.getStore(), later: 'not yet' }
    const entry = own
    setImmediate(() => {
      entry.later = requestContext.getStore()
      res.end('ok')
    })
  }
  const { url, close } = await listen(http.createServer(withMetrics(listener, { sink, exclude: excludeHealth })))
  await fetchText(`${url}/items/7`)
  await fetchText(`${url}/health`) // the same keep-alive connection
  await until(() => seen[0]?.later !== 'not yet', 'the /health listener’s setImmediate')
  await recorded(sink, 1)
  await close()
  assert.instance(own!.sync, Collector)
  assert.is(own!.later, own!.sync)
  assert.equal(seen, [{ sync: undefined, later: undefined }])
})

test('runAsRequest: a synchronous throw reaches the caller with the caller’s context as it was, and marks the request failed', () => {
  const c = new Collector(offClock, null, '/x', 'GET', {}, 0)
  assert.is(requestContext.getStore(), undefined)
  const boom = new Error('boom')
  let caught: unknown
  let inside: unknown
  try {
    runAsRequest(offClock, c, () => {
      inside = requestContext.getStore()
      throw boom
    }, undefined, undefined, undefined)
  } catch (error) {
    caught = error
  }
  assert.is(caught, boom)
  assert.is(inside, c)
  assert.is(requestContext.getStore(), undefined)
  assert.ok(c.threw)
})

test.run()
