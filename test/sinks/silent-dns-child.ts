/**
 * Run by silent-dns.test.ts inside `unshare -rmn` (a private network and mount namespace, as an unprivileged
 * user), with /etc/resolv.conf bind-mounted to `nameserver 127.0.0.1` and a 30 s resolver timeout. Here a
 * UDP "DNS server" on 127.0.0.1:53 reads every query and never answers, so getaddrinfo for a name not in
 * /etc/hosts really hangs on a libuv pool thread. An app wrapped with a statsdSink for such a name serves
 * requests that each make their own lookup of `localhost` (from /etc/hosts, still on the pool). Prints one
 * JSON line: how many requests were answered, how many DNS queries the silent server saw, and the drops.
 */
import dgram from 'node:dgram'
import dns from 'node:dns'
import { writeSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { metrics, statsdSink, withMetrics } from '../../src/index.js'

const REQUESTS = 300

async function main(): Promise<void> {
  const silent = dgram.createSocket('udp4')
  let queries = 0
  silent.on('message', () => queries++)
  await new Promise<void>((resolve) => silent.bind(53, '127.0.0.1', resolve))

  const sink = statsdSink({ host: 'statsd.internal', port: 8125, dnsTimeout: 100, onError: () => {} })
  const server = http.createServer(withMetrics((_req, res) => {
    dns.lookup('localhost', { family: 4 }, (error, address) => res.end(error === null ? address : error.code))
  }, { sink, flushInterval: 20, batchSize: 10 }))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  const agent = new http.Agent({ keepAlive: true, maxSockets: 10 })
  let answered = 0
  const get = () => new Promise<void>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/items/1', agent }, (res) => {
      res.resume()
      res.on('end', () => (answered++, resolve()))
    })
    req.on('error', () => resolve())
  })
  let next = 0
  const worker = async () => { while (next++ < REQUESTS) await get() }
  // Each request answers in well under a millisecond unless the pool is full; then none ever does.
  const deadline = new Promise((resolve) => setTimeout(resolve, 10_000))
  await Promise.race([Promise.all(Array.from({ length: 10 }, worker)), deadline])
  await Promise.race([metrics.flush(), new Promise((resolve) => setTimeout(resolve, 2000))])
  writeSync(1, `${JSON.stringify({ requests: REQUESTS, answered, queries, dropped: metrics.stats().dropped })}\n`)
  // libuv joins its pool threads at exit, and one waits in a getaddrinfo for the silent server's 30 s:
  // leave without waiting (the line above is written synchronously).
  process.kill(process.pid, 'SIGKILL')
}

void main()
