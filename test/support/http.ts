import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Http2Server } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { once } from 'node:events'
import { connect } from 'node:net'
import { Agent, request } from 'undici'

/**
 * Listens on a free loopback port; returns the base URL and a close that also drops keep-alive sockets.
 *
 * @example
 * const { url, close } = await listen(http.createServer(withMetrics(app, { sink })))
 */
export async function listen(server: Server | Http2Server): Promise<{ url: string, port: number, close(): Promise<void> }> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        (server as Server).closeAllConnections?.()
        server.close(() => resolve())
      }),
  }
}

/**
 * A node:http server for a listener that may return a promise (an async handler, Koa's `callback()`, a
 * `withMetrics` around either): node:http ignores what a listener returns, and so does this.
 *
 * @example
 * const { url, close } = await listen(httpServer(withMetrics(async (req, res) => { await work(); res.end() }, { sink })))
 */
export function httpServer(listener: (req: IncomingMessage, res: ServerResponse) => unknown): Server {
  return createServer((req, res) => { void listener(req, res) })
}

/** One undici dispatcher for the tests, so keep-alive behaves as in production clients. */
export const client = new Agent({ keepAliveTimeout: 1000, connections: 64 })

/**
 * GET (or another method) and read the whole body.
 *
 * @example
 * const { status, text } = await fetchText(`${url}/users/42`)
 */
export async function fetchText(url: string, init: { method?: string, headers?: Record<string, string>, body?: string } = {}) {
  const res = await request(url, { method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body, dispatcher: client })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text, trailers: res.trailers }
}

/**
 * Runs `fn` `n` times with at most `concurrency` in flight.
 *
 * @example
 * await pool(300, 10, (i) => fetchText(`${url}/users/${i}`))
 */
export async function pool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++
        out[i] = await fn(i)
      }
    }),
  )
  return out
}

/**
 * Sends raw bytes on a new connection to `port` and resolves with everything that came back once the server
 * closed it, each `Date:` header blanked so that two servers' answers compare byte for byte. Rejects when the
 * server has not closed the connection within `timeoutMs`: every exchange here ends with `Connection: close`.
 *
 * @example
 * const answer = await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
 */
export async function exchange(port: number, raw: string, timeoutMs = 5000): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  let received = ''
  socket.setEncoding('latin1')
  socket.on('data', (d: string) => (received += d))
  socket.write(raw)
  const timer = setTimeout(() => {
    socket.destroy(new Error(`the server kept the connection open ${timeoutMs} ms; got ${JSON.stringify(received)}`))
  }, timeoutMs)
  try {
    await once(socket, 'close')
  } finally { clearTimeout(timer) }
  return received.replace(/^Date: .*\r\n/gim, 'Date: -\r\n')
}
