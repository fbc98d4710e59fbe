/*
 * `npm start`: the demo. A small shop app wrapped with withMetrics, driven with a short load over real HTTP,
 * then a per-route table of what routemeter recorded. Needs nothing but Node: the sink is in memory.
 *
 * It lives outside src/ so it is not published, and imports 'routemeter' as an app does: the package's
 * `exports` resolve that name to dist/, so it runs against the build (`npm start` builds first).
 *
 *   npx tsx examples/demo/main.ts [--requests 3000] [--concurrency 16]
 *   npx tsx examples/demo/main.ts --live [--rate 300]   (Redis and `routemeter top`: see live.ts)
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { memorySink, metrics, withMetrics } from 'routemeter'
import { shopApp } from './app.js'
import { live } from './live.js'
import { drive } from './load.js'
import { formatSummary, summarize } from './summary.js'

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`)
  const value = at === -1 ? fallback : Number(process.argv[at + 1])
  if (!Number.isInteger(value) || value < 1) {
    console.error(`routemeter demo: --${name} takes a positive integer`)
    process.exit(2)
  }
  return value
}

async function main(): Promise<void> {
  if (process.argv.includes('--live')) { process.exitCode = await live({ rate: flag('rate', 300) }); return }
  const total = flag('requests', 3000)
  const concurrency = flag('concurrency', 16)
  const sink = memorySink({ max: total + 100 })
  const app = withMetrics(shopApp, { sink, dimensions: { service: 'shop' } })
  // node:http ignores the promise an async listener returns, so a rejection would be unhandled and end the
  // demo. withMetrics has seen it by then (Failure = 1); here it becomes a 500.
  const server = http.createServer((req, res) => {
    app(req, res).catch((error: unknown) => {
      console.error(error)
      if (!res.headersSent) res.writeHead(500)
      if (!res.writableEnded) res.end()
    })
  })
  server.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as AddressInfo
  console.log(`routemeter demo: shop app on http://127.0.0.1:${port}, sending ${total} requests, ${concurrency} at a time…`)

  const started = performance.now()
  await drive(port, { total, concurrency })
  const seconds = (performance.now() - started) / 1000
  await metrics.flush()
  server.close()

  const records = sink.records().filter((r) => r.kind === 'request')
  const rate = Math.round(records.length / seconds)
  console.log(`\n${records.length} requests recorded in ${seconds.toFixed(1)} s (${rate} req/s, recording included)\n`)
  console.log(formatSummary(summarize(records)))
  const dropped = metrics.stats().dropped
  console.log(`\nDropped metrics: ${Object.keys(dropped).length === 0 ? 'none' : JSON.stringify(dropped)}`)
  console.log('Names: ids in paths collapse to "id"; the 404s a scanner causes are one "unmatched" route.')
  console.log('CpuTime is each request\'s own CPU (attributed mode), so the slow route shows little CPU and /report a lot.')
  await metrics.close()
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
