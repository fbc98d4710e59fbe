import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomUUID } from 'node:crypto'
import { metrics } from 'routemeter'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Burns about `ms` of CPU on the thread, like a report renderer would. */
function render(ms: number): number {
  const until = performance.now() + ms
  let x = 0
  while (performance.now() < until) for (let i = 0; i < 1000; i++) x += Math.sqrt(i)
  return x
}

/**
 * The demo's shop: a plain `node:http` listener with ids in its paths, an async database call timed with
 * `metrics.timed`, a slow route, a CPU-heavy route, client errors and server failures.
 *
 * @example
 * http.createServer(withMetrics(shopApp, { sink: memorySink() }))
 */
export async function shopApp(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!
  const parts = path.split('/').filter(Boolean)
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  if (parts[0] === 'users' && parts.length === 2) {
    metrics.count('cache.hit', Math.random() < 0.8 ? 1 : 0)
    return json(200, { id: parts[1], name: 'Ada' })
  }
  if (parts[0] === 'orders' && parts.length === 2) {
    const order = await metrics.timed('db.orders', async () => {
      await sleep(2)
      return { id: Number(parts[1]), lines: 3 }
    })
    return json(200, order)
  }
  if (path === '/checkout' && req.method === 'POST') {
    if (Math.random() < 0.1) return json(400, { error: 'invalid card' })
    if (Math.random() < 0.05) return json(503, { error: 'payment provider down' })
    metrics.dimension('payment', 'card')
    return json(201, { order: randomUUID() })
  }
  if (path === '/slow') {
    await sleep(40)
    return json(200, { slow: true })
  }
  if (path === '/report') return json(200, { total: render(4) })
  if (path === '/') return json(200, { hello: 'shop' })
  json(404, { error: 'not found' })
}
