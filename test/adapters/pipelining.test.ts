import http from 'node:http'
import net from 'node:net'
import { once } from 'node:events'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { memorySink, withMetrics } from '../../src/index.js'
import { fetchText, listen } from '../support/http.js'
import { sleep, until } from '../support/eventually.js'
import { recorded } from '../support/records.js'
import { flushSink } from '../../src/pipeline/registry.js'

/** Long enough for a record written twice (on a late `finish`, or again on `close`) to reach the sink's next flush. */
const QUIET_MS = 20

test('every pipelined request gets exactly one record when the client cuts the connection, the unfinished ones Aborted', async () => {
  const sink = memorySink()
  let called = 0
  let ended = 0
  // The first request answers at once; the other 29 take 200 ms, so the client has gone before any of them ends.
  const server = http.createServer(withMetrics((req, res) => {
    called++
    const finishLater = () => {
      res.end('late')
      ended++
    }
    if (req.url === '/fast/0') finishLater()
    else setTimeout(finishLater, 200)
  }, { sink }))
  const { port, close } = await listen(server)
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  let requests = 'GET /fast/0 HTTP/1.1\r\nHost: x\r\n\r\n'
  for (let i = 1; i < 30; i++) requests += `GET /slow/${i} HTTP/1.1\r\nHost: x\r\n\r\n`
  socket.write(requests)
  await until(() => called === 30, 'the 30 listener calls')
  // The fast response finished (its record is written on `finish`) before the client hangs up.
  await recorded(sink, 1)
  socket.destroy()
  // Every listener's late res.end() has run: a response that ends after its record was written is not recorded twice.
  await until(() => ended === 30, 'every listener to end its response')
  await recorded(sink, 30)
  // A quiet period, then a last flush: nothing more may arrive.
  await sleep(QUIET_MS)
  await flushSink(sink)
  await close()
  const records = sink.records()
  assert.is(records.length, 30)
  const fast = records.filter((r) => r.route === 'fast.id')
  const slow = records.filter((r) => r.route === 'slow.id')
  assert.equal(fast.map((r) => [r.aborted, r.status, r.counters.Aborted]), [[false, 200, 0]])
  assert.equal(slow.map((r) => [r.aborted, r.status, r.counters.Aborted, r.counters.Failure]), Array(29).fill([true, 0, 1, 0]))
})

test('a keep-alive client gets exactly one record per request, also after its connection closes', async () => {
  const sink = memorySink()
  const server = http.createServer(withMetrics((_req, res) => res.end('ok'), { sink }))
  const { url, close } = await listen(server)
  for (let i = 0; i < 40; i++) await fetchText(`${url}/items/${i}`)
  await Promise.all(Array.from({ length: 10 }, (_, i) => fetchText(`${url}/items/${40 + i}`)))
  await recorded(sink, 50)
  await close() // closes the kept-alive sockets: their 'close' must not record anything again
  // A quiet period after the sockets closed, then a last flush: nothing more may arrive.
  await sleep(QUIET_MS)
  await flushSink(sink)
  const records = sink.records()
  assert.is(records.length, 50)
  assert.equal(records.map((r) => [r.aborted, r.status, r.counters.Aborted]), Array(50).fill([false, 200, 0]))
})

test('a response whose socket the app detached is recorded, aborted, when the connection closes', async () => {
  const sink = memorySink()
  // detachSocket takes Node's own close listener off the socket: the response hears no 'finish' and no 'close'.
  const server = http.createServer(withMetrics((req, res) => {
    if (req.url === '/hijack') res.detachSocket(req.socket)
    else res.end('ok')
  }, { sink }))
  const { port, close } = await listen(server)
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  socket.write('GET /ok HTTP/1.1\r\nHost: x\r\n\r\n')
  await recorded(sink, 1)
  socket.write('GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n')
  await sleep(50)
  socket.destroy()
  await recorded(sink, 2)
  await sleep(QUIET_MS)
  await flushSink(sink)
  await close()
  const records = sink.records()
  assert.equal(records.map((r) => [r.route, r.aborted, r.status, r.counters.Aborted]), [['ok', false, 200, 0], ['hijack', true, 0, 1]])
})

test.run()
