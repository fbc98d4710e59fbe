import http from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { memorySink, withMetrics } from '../../src/index.js'
import { exchange, listen } from '../support/http.js'
import { recorded } from '../support/records.js'

/*
 * The same behaviour suite against a bare server and a wrapped one: the raw bytes on the wire must be equal
 * (Date headers aside), for plain, streamed, chunked-with-trailers, HEAD, 304, request bodies, keep-alive
 * and pipelined requests.
 */
const app: http.RequestListener = (req, res) => {
  const url = req.url!
  if (url === '/plain') {
    res.setHeader('x-custom', 'kept')
    res.setHeader('set-cookie', ['a=1', 'b=2'])
    res.writeHead(201, 'Made', { 'content-type': 'text/plain' })
    res.end('hello')
  } else if (url === '/stream') {
    let n = 0
    const tick = () => {
      if (n === 3) return res.end('end')
      res.write(`chunk${n++};`)
      setTimeout(tick, 5) // a pause between chunks, so they leave as separate writes
    }
    tick()
  } else if (url === '/trailers') {
    res.writeHead(200, { trailer: 'x-checksum' })
    res.write('body')
    res.addTrailers({ 'x-checksum': 'abc123' })
    res.end()
  } else if (url === '/not-modified') {
    res.statusCode = 304
    res.end()
  } else if (url === '/echo') {
    const parts: Buffer[] = []
    req.on('data', (d: Buffer) => parts.push(d))
    req.on('end', () => res.end(Buffer.concat(parts).toString().toUpperCase()))
  } else {
    res.statusCode = 404
    res.end('missing')
  }
}

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`
const scenarios: Record<string, string> = {
  'plain response with custom and repeated headers': get('/plain', 'Connection: close\r\n'),
  'streamed chunked response': get('/stream', 'Connection: close\r\n'),
  'chunked response with trailers': get('/trailers', 'TE: trailers\r\nConnection: close\r\n'),
  'HEAD request': `HEAD /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  '304 without a body': get('/not-modified', 'Connection: close\r\n'),
  'request body read by the app': `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabcde`,
  'keep-alive: three requests on one connection': get('/plain') + get('/stream') + get('/missing', 'Connection: close\r\n'),
  'pipelining: requests sent before any response': get('/stream') + get('/plain') +
    get('/echo', 'Content-Length: 2\r\n').replace('\r\n\r\n', '\r\n\r\nhi') + get('/plain', 'Connection: close\r\n'),
  'HTTP/1.0 without keep-alive': 'GET /plain HTTP/1.0\r\n\r\n',
}

test('a wrapped server answers byte for byte like the bare one', async () => {
  const sink = memorySink()
  const bare = await listen(http.createServer(app))
  const wrapped = await listen(http.createServer(withMetrics(app, { sink })))
  for (const [name, raw] of Object.entries(scenarios)) {
    const [expected, actual] = await Promise.all([exchange(bare.port, raw), exchange(wrapped.port, raw)])
    assert.ok(expected.startsWith('HTTP/1.'), `${name}: bare server answered ${JSON.stringify(expected.slice(0, 40))}`)
    assert.is(actual, expected, name)
  }
  const records = await recorded(sink, 14)
  await bare.close()
  await wrapped.close()
  // 1+1+1+1+1+1+3+4+1 requests, each recorded once, none aborted
  assert.equal(records.map((r) => [r.method, r.route, r.status, r.aborted]), [
    ['GET', 'plain', 201, false], ['GET', 'stream', 200, false], ['GET', 'trailers', 200, false], ['HEAD', 'plain', 201, false],
    ['GET', 'not-modified', 304, false], ['POST', 'echo', 200, false],
    ['GET', 'plain', 201, false], ['GET', 'stream', 200, false], ['GET', 'unmatched', 404, false],
    ['GET', 'stream', 200, false], ['GET', 'plain', 201, false], ['GET', 'echo', 200, false], ['GET', 'plain', 201, false],
    ['GET', 'plain', 201, false],
  ])
})

test.run()
