import http from 'node:http'
import net from 'node:net'
import { once } from 'node:events'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { memorySink, withMetrics } from '../../src/index.js'
import { fetchText, listen } from '../support/http.js'
import { flushSink } from '../../src/pipeline/registry.js'

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

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
  await new Promise((r) => setTimeout(r, 50))
  socket.destroy()
  // Every listener's late res.end() has run: a response that ends after its record was written is not recorded twice.
  await until(() => ended === 30, 'every listener to end its response')
  await until(async () => (await flushSink(sink), sink.records().length >= 30), '30 records')
  await new Promise((r) => setTimeout(r, 20))
  await flushSink(sink)
  await close()
  const records = sink.records()
  assert.is(records.length, 30)
  const fast = records.filter((r) => r.route === 'fast.id')
  const slow = records.filter((r) => r.route === 'slow.id')
  assert.equal(fast.map((r) => [r.aborted, r.status, r.counters.Aborted]), [[false, 200, 0]])
  assert.is(slow.length, 29)
  assert.ok(slow.every((r) => r.aborted && r.status === 0 && r.counters.Aborted === 1 && r.counters.Failure === 0))
})

test('a keep-alive client gets exactly one record per request, also after its connection closes', async () => {
  const sink = memorySink()
  const server = http.createServer(withMetrics((_req, res) => res.end('ok'), { sink }))
  const { url, close } = await listen(server)
  for (let i = 0; i < 40; i++) await fetchText(`${url}/items/${i}`)
  await Promise.all(Array.from({ length: 10 }, (_, i) => fetchText(`${url}/items/${40 + i}`)))
  await close() // closes the kept-alive sockets: their 'close' must not record anything again
  await new Promise((r) => setTimeout(r, 20))
  await flushSink(sink)
  const records = sink.records()
  assert.is(records.length, 50)
  assert.ok(records.every((r) => !r.aborted && r.status === 200 && r.counters.Aborted === 0))
})

test.run()
