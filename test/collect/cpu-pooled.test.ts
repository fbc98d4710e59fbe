import type http from 'node:http'
import { createClient } from 'redis'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { metrics } from '../../src/index.js'
import { startRedis, type RedisServer } from '../support/redis-server.js'
import { REDIS, servicesAvailable } from '../support/services.js'
import { burn, runBurst, sleep, threadSource, type Burn } from './cpu-scenario.js'

/*
 * The accuracy scenario of cpu.test.ts, with every request talking to a real redis-server over ONE shared
 * node-redis connection, as apps do with a client pool. The replies of many requests arrive in one socket
 * read and are resolved inside the socket's callback, which belongs to no request (the connection was opened
 * outside any): each request's continuation runs as a promise reaction inside that one callback. A clock that
 * only looks at callback (macrotask) boundaries bills a burn after a reply to nobody, or to whoever ran
 * before; this is the case that shows it. One run, no retries: ±25% and 2 ms, like cpu.test.ts.
 */
const test = suite('attributed CpuTime over a shared redis connection')
const available = servicesAvailable('test/collect/cpu-pooled.test.ts', [REDIS])
const it = available ? test : test.skip

let server: RedisServer
let client: ReturnType<typeof createClient>
test.before(async () => {
  if (!available) return
  server = await startRedis()
  client = createClient({ url: server.url })
  await client.connect()
  await client.set('k', 'v')
})
test.after(async () => {
  await client?.close()
  await server?.stop({ keepData: false })
})

const burned = new Map<string, Burn>()

async function app(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const id = String(req.headers['x-id'] ?? '')
  metrics.dimension('rid', id || '-')
  if (req.url === '/burn') {
    await client.get('k')
    burned.set(id, burn(20))
  } else if (req.url === '/sleep') {
    await client.get('k')
    await sleep(20)
    await client.get('k')
  } else if (req.url === '/await-burn') {
    await client.get('k')
    await sleep(10)
    await client.get('k')
    burned.set(id, burn(20))
  }
  res.end('done')
}

it('bills a burn after a reply to its request, and nothing to requests that only wait for replies', async () => {
  const { records, verdict: v } = await runBurst(app, burned, 0.25, 2)
  assert.is(records.length, 60)
  assert.is(records.filter((r) => r.route === 'sleep').length, 20)
  assert.equal(v.failures, [], `${v.failures[0]} (thread CPU from ${threadSource}; ${v.table})`)
})

test.run()
