import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { once } from 'node:events'
import { Agent, request } from 'undici'

/** Listens on a free loopback port; returns the base URL and a close that also drops keep-alive sockets. */
export async function listen(server: Server | import('node:http2').Http2Server): Promise<{ url: string; port: number; close(): Promise<void> }> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        ;(server as Server).closeAllConnections?.()
        server.close(() => resolve())
      }),
  }
}

/** One undici dispatcher for the tests, so keep-alive behaves as in production clients. */
export const client = new Agent({ keepAliveTimeout: 1000, connections: 64 })

/** GET (or another method) and read the whole body. */
export async function fetchText(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const res = await request(url, { method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body, dispatcher: client })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text, trailers: res.trailers }
}

/** Runs `fn` `n` times with at most `concurrency` in flight. */
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
