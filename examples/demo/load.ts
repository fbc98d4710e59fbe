import http from 'node:http'
import { randomUUID } from 'node:crypto'

/** One request of the demo's traffic mix: mostly ids, some errors, a slow and a CPU-heavy route. */
function pick(i: number): { method: string, path: string } {
  const r = i % 20
  if (r < 7) return { method: 'GET', path: `/users/${randomUUID()}` }
  if (r < 11) return { method: 'GET', path: `/orders/${1000 + i}?expand=lines` }
  if (r < 14) return { method: 'POST', path: '/checkout' }
  if (r === 14) return { method: 'GET', path: '/slow' }
  if (r < 17) return { method: 'GET', path: '/report' }
  if (r === 17) return { method: 'GET', path: `/wp-admin/${i}.php` }
  return { method: 'GET', path: '/' }
}

/**
 * Sends `total` requests to `port` on loopback, `concurrency` at a time, over keep-alive connections.
 *
 * @example
 * await drive(server.address().port, { total: 2000, concurrency: 16 })
 */
export async function drive(port: number, options: { total: number, concurrency: number }): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency })
  let next = 0
  const worker = async () => {
    while (next < options.total) {
      const { method, path } = pick(next++)
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
          res.resume()
          res.on('end', resolve)
        })
        req.on('error', reject)
        req.end()
      })
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  agent.destroy()
}
