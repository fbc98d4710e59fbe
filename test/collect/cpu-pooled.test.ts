import * as assert from 'uvu/assert'
import { redisSuite } from '../support/redis-server.js'
import { runScenario } from '../support/scenario-process.js'
import type { BurstScenario } from './cpu-burst-scenario.js'

/*
 * The accuracy scenario of cpu.test.ts, with every request talking to a real redis-server over ONE shared
 * node-redis connection, as apps do with a client pool. The replies of many requests arrive in one socket
 * read and are resolved inside the socket's callback, which belongs to no request (the connection was opened
 * outside any): each request's continuation runs as a promise reaction inside that one callback. A clock that
 * only looks at callback (macrotask) boundaries bills a burn after a reply to nobody, or to whoever ran
 * before; this is the case that shows it. One run, no retries: ±25% and 2 ms, like cpu.test.ts. The scenario runs
 * in a process of its own (cpu-burst-scenario.ts says why).
 */
const { test, it, redis } = redisSuite('attributed CpuTime over a shared redis connection', {
  file: 'test/collect/cpu-pooled.test.ts',
})

it('bills a burn after a reply to its request, and nothing to requests that only wait for replies', async () => {
  const { records, sleepers, threadSource, verdict: v } =
    await runScenario<BurstScenario>('test/collect/cpu-burst-scenario.ts', { args: [redis.url] })
  assert.is(records, 60)
  assert.is(sleepers, 20)
  assert.equal(v.failures, [], `${v.failures[0]} (thread CPU from ${threadSource}; ${v.table})`)
})

test.run()
