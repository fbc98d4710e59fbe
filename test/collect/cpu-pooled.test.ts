import { createClient } from 'redis'
import * as assert from 'uvu/assert'
import { redisSuite } from '../support/redis-server.js'
import { runBurst, scenarioApp, threadSource, type Burn } from './cpu-scenario.js'

/*
 * The accuracy scenario of cpu.test.ts, with every request talking to a real redis-server over ONE shared
 * node-redis connection, as apps do with a client pool. The replies of many requests arrive in one socket
 * read and are resolved inside the socket's callback, which belongs to no request (the connection was opened
 * outside any): each request's continuation runs as a promise reaction inside that one callback. A clock that
 * only looks at callback (macrotask) boundaries bills a burn after a reply to nobody, or to whoever ran
 * before; this is the case that shows it. One run, no retries: ±25% and 2 ms, like cpu.test.ts.
 */
const { test, it, available, redis } = redisSuite('attributed CpuTime over a shared redis connection', {
  file: 'test/collect/cpu-pooled.test.ts',
})

let client: ReturnType<typeof createClient>
test.before(async () => {
  if (!available) return
  client = createClient({ url: redis.url })
  await client.connect()
  await client.set('k', 'v')
})
test.after(async () => { await client?.close() })

const burned = new Map<string, Burn>()
// Every request reads `k` over the one shared connection around each of its waits.
const app = scenarioApp(burned, () => client.get('k'))

it('bills a burn after a reply to its request, and nothing to requests that only wait for replies', async () => {
  const { records, verdict: v } = await runBurst(app, burned, 0.25, 2)
  assert.is(records.length, 60)
  assert.is(records.filter((r) => r.route === 'sleep').length, 20)
  assert.equal(v.failures, [], `${v.failures[0]} (thread CPU from ${threadSource}; ${v.table})`)
})

test.run()
