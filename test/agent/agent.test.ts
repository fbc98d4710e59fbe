import * as assert from 'uvu/assert'
import { createClient } from 'redis'
import type { MetricRecord } from '../../src/wire/record.js'
import { startAgent, type Agent } from '../../src/agent/agent.js'
import { PublishError, type AgentEntry, type Publisher } from '../../src/agent/publisher.js'
import { OptionError } from '../../src/util/option-check.js'
import { agentStats } from '../../src/agent/agent-stats.js'
import { statusLine } from '../../src/cli/status-line.js'
import { rawEntry } from '../support/entries.js'
import { until } from '../support/eventually.js'
import { redisSuite } from '../support/redis-server.js'
import { freePort, sleep, waitFor } from '../support/services.js'

const { test, it, available, redis: server, cleanup, atEnd } = redisSuite('startAgent', { file: 'test/agent/agent.test.ts' })

let redis: ReturnType<typeof createClient>
let n = 0

test.before(async () => {
  if (!available) return
  redis = createClient({ url: server.url })
  await redis.connect()
  atEnd(() => redis.close()) // registered after the server's stop: runs before it
})

function records(count: number, from = 0): MetricRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    kind: 'request' as const, prefix: '', route: 'users.id', method: 'GET', status: 200, aborted: false,
    dimensions: {}, counters: { Failure: 0 }, timers: { RequestTime: 1 }, timestamp: 1763798400000 + from + i,
  }))
}

async function add(stream: string, batch: MetricRecord[]): Promise<string> {
  const e = rawEntry('*', batch)
  return await redis.xAdd(stream, e.id, { v: e.v, n: String(e.n), p: e.p })
}

type Failure = ((e: readonly AgentEntry[]) => Error | undefined) | undefined

/** Records every entry id it is given; can be told to fail. */
function recorder(name = 'rec'): Publisher & { ids: string[], requests: number, fail: Failure, closed: boolean } {
  const pub = {
    name, ids: [] as string[], requests: 0, closed: false,
    fail: undefined as Failure,
    async publish(entries: readonly AgentEntry[]) {
      const error = pub.fail?.(entries)
      if (error !== undefined) throw error
      for (const e of entries) { pub.ids.push(e.id); pub.requests += e.batch.requests }
    },
    async close() { pub.closed = true },
  }
  return pub
}

function agent(options: Partial<Parameters<typeof startAgent>[0]> & { stream: string }, errors: Error[] = []): Agent {
  const a = startAgent({
    redis: server.url, group: 'g', consumer: 'c1', publishers: [recorder()], blockMs: 100, onError: (e) => errors.push(e), ...options,
  })
  cleanup(() => a.stop())
  return a
}

test('bad options throw a TypeError (OptionError) naming the option', () => {
  const cases: Array<[unknown, string]> = [
    [{ publishers: [] }, 'publishers'], [{ publishers: [{}] }, 'publishers'], [{}, 'publishers'],
    [{ publishers: [recorder()], stream: '' }, 'stream'], [{ publishers: [recorder()], readCount: 0 }, 'readCount'],
    [{ publishers: [recorder()], redis: 'http://x' }, 'redis'], [{ publishers: [recorder()], maxDeliveries: 1.5 }, 'maxDeliveries'],
    [{ publishers: [recorder()], redis: 'redis+sentinel://:hunter2@s1:26379' }, 'redis'],
    [{ publishers: [recorder()], onError: 1 }, 'onError'],
    [{ publishers: [recorder()], claimIntervalMs: -1 }, 'claimIntervalMs'], [null as never, 'publishers'], [7, 'options'],
  ]
  for (const [options, name] of cases) {
    try { startAgent(options as never); assert.unreachable(name) } catch (e) {
      assert.instance(e, TypeError)
      assert.instance(e, OptionError)
      assert.is((e as OptionError).option, name)
      assert.ok((e as Error).message.startsWith(`routemeter: startAgent option "${name}" `), (e as Error).message)
      assert.not.ok((e as Error).message.includes('hunter2'), (e as Error).message)
    }
  }
  const secretive = { name: 'p', token: 'tok-secret', async publish() {}, close: 'not a function' }
  try { startAgent({ publishers: [secretive as never] }); assert.unreachable() } catch (e) {
    assert.is((e as Error).message, 'routemeter: startAgent option "publishers" must be a non-empty array of publishers ' +
      '(objects with publish() and close()), got an array whose element 0 is not one')
  }
})

it('publishes every entry once and acks it, creating the stream and group if missing', async () => {
  const stream = `s${++n}`
  const pub = recorder()
  const a = agent({ stream, publishers: [pub] })
  await a.ready
  const ids: string[] = []
  for (let i = 0; i < 20; i++) ids.push(await add(stream, records(10, i * 10)))
  await waitFor('all entries', () => a.stats().entries === 20)
  assert.equal(pub.ids, ids)
  assert.is(pub.requests, 200)
  assert.is(a.stats().requests, 200)
  const pending = await redis.xPending(stream, 'g')
  assert.is(pending.pending, 0)
})

it('reads entries that were in the stream before the group existed', async () => {
  const stream = `s${++n}`
  for (let i = 0; i < 5; i++) await add(stream, records(3))
  const pub = recorder()
  const a = agent({ stream, publishers: [pub] })
  await waitFor('backlog read', () => a.stats().entries === 5)
  assert.is(pub.requests, 15)
})

it('two agents in one group publish each entry exactly once between them', async () => {
  const stream = `s${++n}`
  const p1 = recorder()
  const p2 = recorder()
  const a1 = agent({ stream, consumer: 'one', publishers: [p1], readCount: 3 })
  const a2 = agent({ stream, consumer: 'two', publishers: [p2], readCount: 3 })
  await Promise.all([a1.ready, a2.ready])
  const ids: string[] = []
  for (let i = 0; i < 200; i++) ids.push(await add(stream, records(1, i)))
  await waitFor('all entries', () => a1.stats().entries + a2.stats().entries === 200)
  // Every entry acked: none is left that a claim could hand out again, so the split below is final.
  await until(async () => (await redis.xPending(stream, 'g')).pending === 0, 'every entry acked')
  const seen = [...p1.ids, ...p2.ids]
  assert.is(seen.length, 200)
  assert.equal(new Set(seen).size, 200)
  assert.ok(p1.ids.length > 0 && p2.ids.length > 0, `split ${p1.ids.length}/${p2.ids.length}`)
})

it('a poisoned entry (garbage or unknown version) goes to <stream>:dead at once; the rest flow', async () => {
  const stream = `s${++n}`
  const errors: Error[] = []
  const pub = recorder()
  const a = agent({ stream, publishers: [pub] }, errors)
  await a.ready
  const good1 = await add(stream, records(2))
  const garbage = await redis.xAdd(stream, '*', { v: '1', p: '{"not":"an entry"' })
  const future = await redis.xAdd(stream, '*', { v: '99', p: 'whatever' })
  const good2 = await add(stream, records(2))
  await waitFor('processing', () => a.stats().entries === 2 && a.stats().deadLettered === 2)
  assert.equal(pub.ids, [good1, good2])
  const dead = ((await redis.xRange(`${stream}:dead`, '-', '+')) ?? [])
  const reasons = [
    'StreamDecodeError: malformed stream entry: payload is not JSON', 'StreamDecodeError: unknown stream encoding version "99"',
  ]
  assert.equal(dead.map((d) => (d.message as Record<string, string>)._id), [garbage, future])
  assert.equal(dead.map((d) => (d.message as Record<string, string>)._reason), reasons)
  assert.is((dead[0].message as Record<string, string>).p, '{"not":"an entry"')
  assert.is((await redis.xPending(stream, 'g')).pending, 0)
  assert.equal(errors.map((e) => e.message), [
    `routemeter agent: entry ${garbage} moved to ${stream}:dead: ${reasons[0]}`,
    `routemeter agent: entry ${future} moved to ${stream}:dead: ${reasons[1]}`,
  ])
})

it('an entry a publisher refuses permanently is isolated and dead-lettered; its neighbours are published', async () => {
  const stream = `s${++n}`
  const pub = recorder()
  const poisonTs = 1763798400000 + 5
  pub.fail = (entries) =>
    entries.some((e) => e.batch.baseTimestamp === poisonTs) ? new PublishError('400 bad point', { permanent: true }) : undefined
  const other = recorder('other')
  const ids: string[] = []
  for (let i = 0; i < 10; i++) ids.push(await add(stream, records(1, i)))
  const a = agent({ stream, publishers: [pub, other] })
  await waitFor('processing', () => a.stats().entries === 9 && a.stats().deadLettered === 1)
  assert.equal(pub.ids, ids.filter((_, i) => i !== 5))
  const dead = ((await redis.xRange(`${stream}:dead`, '-', '+')) ?? [])
  assert.is((dead[0].message as Record<string, string>)._id, ids[5])
  assert.match((dead[0].message as Record<string, string>)._reason, /rec: 400 bad point/)
  // The healthy publisher got everything exactly once.
  assert.equal(other.ids, ids)
})

it('a transiently failing publisher is retried with backoff, others are not asked twice, nothing acked early', async () => {
  const stream = `s${++n}`
  const flaky = recorder('flaky')
  const steady = recorder('steady')
  let failures = 0
  flaky.fail = () => (failures++ < 4 ? new PublishError('503 service unavailable', { permanent: false }) : undefined)
  const errors: Error[] = []
  const a = agent({ stream, publishers: [flaky, steady], retryMinMs: 20, retryMaxMs: 40 }, errors)
  await a.ready
  const id = await add(stream, records(4))
  // Three more backoffs of 20–40 ms are still to come once the first retry is counted.
  await until(() => a.stats().retries >= 1, 'the first retry')
  assert.is((await redis.xPending(stream, 'g')).pending, 1, 'not acked while a publisher still fails')
  await waitFor('delivery', () => a.stats().entries === 1)
  assert.equal(flaky.ids, [id])
  assert.equal(steady.ids, [id])
  assert.is(a.stats().retries, 4)
  assert.is(errors.filter((e) => e.message.includes('flaky failed')).length, 1)
  assert.is((await redis.xPending(stream, 'g')).pending, 0)
})

it('entries a live agent keeps retrying are not reclaimed by another agent', async () => {
  const stream = `s${++n}`
  const stuck = recorder('stuck')
  let failing = true
  stuck.fail = () => (failing ? new PublishError('backend down', { permanent: false }) : undefined)
  const thief = recorder('thief')
  const a1 = agent({ stream, consumer: 'holder', publishers: [stuck], claimIdleMs: 300, retryMinMs: 50, retryMaxMs: 1000 })
  await a1.ready
  const id = await add(stream, records(1))
  await waitFor('holder retrying', () => a1.stats().retries > 0)
  const a2 = agent({ stream, consumer: 'thief', publishers: [thief], claimIdleMs: 300, claimIntervalMs: 50 })
  await a2.ready
  // The time is the subject: five claimIdleMs periods in which the thief, looking every 50 ms, must find nothing
  // idle, since the holder, still retrying, keeps the entry alive.
  await sleep(1500)
  failing = false
  await waitFor('published', () => a1.stats().entries === 1, 5000)
  assert.equal(thief.ids, [])
  assert.is(a2.stats().reclaimed, 0)
  assert.equal(stuck.ids, [id])
})

it('entries idle in a dead consumer\'s pending list are reclaimed (XAUTOCLAIM) and published', async () => {
  const stream = `s${++n}`
  await redis.xGroupCreate(stream, 'g', '0', { MKSTREAM: true })
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push(await add(stream, records(1, i)))
  // A consumer that read and died.
  await redis.xReadGroup('g', 'dead-agent', { key: stream, id: '>' }, { COUNT: 10 })
  const pub = recorder()
  const a = agent({ stream, consumer: 'alive', publishers: [pub], claimIdleMs: 200, claimIntervalMs: 100 })
  await waitFor('reclaim', () => a.stats().entries === 3, 5000)
  assert.equal(pub.ids, ids)
  assert.is(a.stats().reclaimed, 3)
})

it('pending entries trimmed away before anyone acked them are counted as trimmed, not retried', async () => {
  const stream = `s${++n}`
  await redis.xGroupCreate(stream, 'g', '0', { MKSTREAM: true })
  for (let i = 0; i < 4; i++) await add(stream, records(1, i))
  await redis.xReadGroup('g', 'gone', { key: stream, id: '>' }, { COUNT: 10 })
  await redis.xTrim(stream, 'MAXLEN', 0)
  const pub = recorder()
  const a = agent({ stream, consumer: 'alive', publishers: [pub], claimIdleMs: 100, claimIntervalMs: 50 })
  await waitFor('trimmed', () => a.stats().trimmed === 4, 5000)
  assert.equal(pub.ids, [])
  assert.is((await redis.xPending(stream, 'g')).pending, 0)
})

it('an error that is not a PublishError counts a delivery per attempt: dead-lettered at maxDeliveries, the rest flow', async () => {
  const stream = `s${++n}`
  const pub = recorder()
  const poisonTs = 1763798400000 + 1
  let poisonAttempts = 0
  pub.fail = (entries) => {
    if (!entries.some((e) => e.batch.baseTimestamp === poisonTs)) return undefined
    poisonAttempts++
    return new TypeError('Cannot read properties of undefined (reading \'x\')')
  }
  const errors: Error[] = []
  const a = agent({ stream, publishers: [pub], maxDeliveries: 3, retryMinMs: 10, retryMaxMs: 20 }, errors)
  await a.ready
  const before = await add(stream, records(1, 0))
  const bad = await add(stream, records(1, 1))
  const after = await add(stream, records(1, 2))
  await waitFor('the poisoned entry dead-lettered', () => a.stats().deadLettered === 1 && a.stats().entries === 2, 5000)
  // The agent reads again: a later entry is published too.
  const later = await add(stream, records(1, 3))
  await waitFor('a later entry', () => a.stats().entries === 3, 5000)
  assert.equal(pub.ids, [before, after, later])
  assert.is(poisonAttempts, 3, 'one attempt per delivery, maxDeliveries of them')
  const dead = ((await redis.xRange(`${stream}:dead`, '-', '+')) ?? []).map((d) => d.message as Record<string, string>)
  assert.is(dead.length, 1)
  assert.is(dead[0]._id, bad)
  assert.is(dead[0]._deliveries, '3')
  assert.match(dead[0]._reason, /rec: .*Cannot read properties of undefined/)
  assert.is((await redis.xPending(stream, 'g')).pending, 0)
})

it('a publisher that keeps failing without a PublishError never stalls reading: each entry is dead-lettered in turn', async () => {
  const stream = `s${++n}`
  const pub = recorder()
  pub.fail = () => new Error('always broken')
  const a = agent({ stream, publishers: [pub], maxDeliveries: 2, retryMinMs: 10, retryMaxMs: 20 })
  await a.ready
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push(await add(stream, records(1, i)))
  await waitFor('all dead-lettered', () => a.stats().deadLettered === 3, 5000)
  const dead = ((await redis.xRange(`${stream}:dead`, '-', '+')) ?? []).map((d) => (d.message as Record<string, string>)._id)
  assert.equal(dead.sort(), [...ids].sort())
  assert.is((await redis.xPending(stream, 'g')).pending, 0)
})

it('attempts that failed are recorded in Redis, so an agent restarted mid-retry goes on counting', async () => {
  const stream = `s${++n}`
  const pub = recorder()
  pub.fail = () => new Error('broken')
  const a = agent({ stream, consumer: 'counting', publishers: [pub], maxDeliveries: 50, retryMinMs: 10, retryMaxMs: 20 })
  await a.ready
  const id = await add(stream, records(1))
  await waitFor('a few attempts recorded', async () => {
    const [p] = await redis.xPendingRange(stream, 'g', '-', '+', 1)
    return p?.id === id && p.deliveriesCounter >= 4
  }, 5000)
})

it('an outage (a transient PublishError) is retried past maxDeliveries without dead-lettering anything', async () => {
  const stream = `s${++n}`
  const pub = recorder()
  let failures = 0
  pub.fail = () => (failures++ < 6 ? new PublishError('connect ECONNREFUSED', { permanent: false }) : undefined)
  const a = agent({ stream, publishers: [pub], maxDeliveries: 2, retryMinMs: 10, retryMaxMs: 20 })
  await a.ready
  const id = await add(stream, records(1))
  await waitFor('delivery', () => a.stats().entries === 1, 5000)
  assert.equal(pub.ids, [id])
  assert.is(a.stats().deadLettered, 0)
  assert.is(a.stats().retries, 6)
})

it('a publisher that recovers is reported once, with the number of failed attempts', async () => {
  const stream = `s${++n}`
  const flaky = recorder('flaky')
  let failures = 0
  flaky.fail = () => (failures++ < 2 ? new PublishError('503 service unavailable', { permanent: false }) : undefined)
  const errors: Error[] = []
  const a = agent({ stream, publishers: [flaky], retryMinMs: 10, retryMaxMs: 20 }, errors)
  await a.ready
  await add(stream, records(1))
  await waitFor('delivery', () => a.stats().entries === 1)
  await add(stream, records(1, 1))
  await waitFor('second delivery', () => a.stats().entries === 2)
  const recovered = errors.filter((e) => e.message.includes('recovered'))
  assert.equal(recovered.map((e) => e.message), ['routemeter agent: flaky: recovered after 2 failed attempts'])
})

it('an entry delivered more than maxDeliveries times is dead-lettered instead of published', async () => {
  const stream = `s${++n}`
  await redis.xGroupCreate(stream, 'g', '0', { MKSTREAM: true })
  const id = await add(stream, records(1))
  const ok = await add(stream, records(1, 1))
  // Three crashed deliveries of the first entry (each read or claim counts one).
  await redis.xReadGroup('g', 'crashy', { key: stream, id: '>' }, { COUNT: 1 })
  await redis.xClaim(stream, 'g', 'crashy', 0, id)
  await redis.xClaim(stream, 'g', 'crashy', 0, id)
  const pub = recorder()
  const a = agent({ stream, consumer: 'crashy', publishers: [pub], maxDeliveries: 3 })
  await waitFor('processing', () => a.stats().deadLettered === 1 && a.stats().entries === 1)
  assert.equal(pub.ids, [ok])
  const dead = ((await redis.xRange(`${stream}:dead`, '-', '+')) ?? [])
  assert.is((dead[0].message as Record<string, string>)._id, id)
  assert.is((dead[0].message as Record<string, string>)._deliveries, '4')
})

it('stop() finishes and acks in-flight work, closes publishers, and resolves', async () => {
  const stream = `s${++n}`
  const pub = recorder()
  // A slow publisher (the time is the subject): stop() must wait for it, not cut it off.
  const slow: Publisher = { name: 'slow', async publish() { await sleep(300) }, async close() {} }
  const a = agent({ stream, publishers: [pub, slow] })
  await a.ready
  await add(stream, records(7))
  await waitFor('read', async () => (await redis.xPending(stream, 'g')).pending === 1, 2000, 5)
  const started = Date.now()
  await a.stop()
  assert.ok(Date.now() - started < 3000, `${Date.now() - started} ms`)
  assert.is(a.stats().entries, 1)
  assert.is((await redis.xPending(stream, 'g')).pending, 0)
  assert.is(pub.closed, true)
})

it('stop() abandons a publisher that never recovers at drainTimeoutMs, leaving the entry pending', async () => {
  const stream = `s${++n}`
  const pub = recorder()
  pub.fail = () => new PublishError('down', { permanent: false })
  const a = agent({ stream, publishers: [pub], retryMinMs: 20, retryMaxMs: 50, drainTimeoutMs: 300 })
  await a.ready
  await add(stream, records(1))
  await waitFor('retrying', () => a.stats().retries > 0)
  const started = Date.now()
  await a.stop()
  assert.ok(Date.now() - started < 2500, `${Date.now() - started} ms`)
  assert.is((await redis.xPending(stream, 'g')).pending, 1)
})

it('stop() resolves within drainTimeoutMs + 1 s when a publish and a close never settle, leaving the entry pending', async () => {
  const stream = `s${++n}`
  let publishes = 0
  // Deaf to the drain's abort and never settling, its close() too: only stop()'s one closing deadline ends it.
  // Before that deadline, the per-step waits (2 s, 5 s, 1 s, 1 s) held stop() 7.3 s here.
  const stuck: Publisher = {
    name: 'stuck',
    async publish() { publishes++; await new Promise(() => {}) },
    async close() { await new Promise(() => {}) },
  }
  const a = agent({ stream, publishers: [stuck], drainTimeoutMs: 300 })
  await a.ready
  await add(stream, records(3))
  await waitFor('publishing', () => publishes === 1)
  const started = Date.now()
  // Unref'd: once stop() resolves, this timer must not hold the file's run open for 10 s.
  const hung = new Promise((resolve) => { setTimeout(resolve, 10_000, 'hung').unref() })
  const outcome = await Promise.race([a.stop().then(() => 'resolved'), hung])
  const took = Date.now() - started
  assert.is(outcome, 'resolved')
  assert.ok(took >= 290 && took < 2500, `${took} ms`)
  // Abandoned, not acked: the entry stays pending for the next agent (at-least-once).
  assert.is((await redis.xPending(stream, 'g')).pending, 1)
})

it('a stream and group that vanish (Redis restarted empty, FLUSHALL) are recreated and reading goes on', async () => {
  const stream = `s${++n}`
  const pub = recorder()
  const a = agent({ stream, publishers: [pub] })
  await a.ready
  const first = await add(stream, records(1))
  await waitFor('first', () => a.stats().entries === 1)
  await redis.flushAll()
  // Nothing but the agent creates the stream again (XGROUP CREATE … MKSTREAM, once its read failed).
  await until(async () => (await redis.exists(stream)) === 1, 'the agent to recreate the stream and its group')
  const second = await add(stream, records(1))
  await waitFor('after FLUSHALL', () => a.stats().entries === 2, 5000)
  assert.equal(pub.ids, [first, second])
})

it('an XACK lost with its connection (Redis stopped mid-ack) is sent again, not the entry: published once', async () => {
  const stream = `s${++n}`
  const pub = recorder()
  const publish = pub.publish.bind(pub)
  let paused = false
  // The first publish pauses Redis' writes: the XACK that follows waits in Redis, unexecuted, until its connection
  // is killed, as when Redis stops between an agent's publish and its ack (seen in test/agent/pipeline.test.ts).
  pub.publish = async (entries) => {
    await publish(entries)
    if (!paused) { paused = true; await redis.sendCommand(['CLIENT', 'PAUSE', '10000', 'WRITE']) }
  }
  const a = agent({ stream, publishers: [pub] })
  await a.ready
  const id = await add(stream, records(1))
  try {
    let ackClient: number | undefined
    await until(async () => {
      ackClient = (await redis.clientList()).find((c) => c.cmd === 'xack' && c.flags.includes('b'))?.id
      return ackClient !== undefined
    }, 'the agent\'s XACK to wait in the paused Redis')
    await redis.sendCommand(['CLIENT', 'KILL', 'ID', String(ackClient)])
  } finally { await redis.sendCommand(['CLIENT', 'UNPAUSE']) }
  await until(async () => (await redis.xPending(stream, 'g')).pending === 0, 'the entry to be acked after the reconnect')
  assert.equal(pub.ids, [id], 'published once, not again by the recovery of pending entries')
  assert.is(a.stats().entries, 1)
})

it('a dead-letter XADD lost with its connection does not handle the rest of its read again', async () => {
  const stream = `s${++n}`
  // One read: garbage (dead-lettered before publishing), a bad entry (refused), a good one (published).
  const garbage = await redis.xAdd(stream, '*', { v: '1', p: '{"not":"an entry"' })
  const bad = await add(stream, records(1, 1))
  const good = await add(stream, records(1))
  const pub = recorder()
  pub.fail = (entries) => (entries.some((e) => e.id === bad) ? new PublishError('400: a bad entry', { permanent: true }) : undefined)
  const publish = pub.publish.bind(pub)
  let paused = false
  // The bad entry's own publish, alone, pauses Redis' writes: the dead-letter XADD that follows waits in Redis until
  // its connection is killed, as when Redis stops between an agent's publish and its dead letter.
  pub.publish = async (entries) => {
    if (!paused && entries.length === 1 && entries[0]!.id === bad) {
      paused = true
      await redis.sendCommand(['CLIENT', 'PAUSE', '10000', 'WRITE'])
    }
    await publish(entries)
  }
  const a = agent({ stream, publishers: [pub] })
  try {
    let client: number | undefined
    await until(async () => {
      client = (await redis.clientList()).find((c) => c.cmd === 'xadd' && c.flags.includes('b'))?.id
      return client !== undefined
    }, 'the dead-letter XADD to wait in the paused Redis')
    await redis.sendCommand(['CLIENT', 'KILL', 'ID', String(client)])
  } finally { await redis.sendCommand(['CLIENT', 'UNPAUSE']) }
  await until(async () => (await redis.xPending(stream, 'g')).pending === 0, 'both entries to be acked after the reconnect')
  // Before, the recovery of the read's pending entries published the good entry again and dead-lettered the
  // garbage twice.
  assert.equal(pub.ids, [good], 'the good entry published once')
  const dead = ((await redis.xRange(`${stream}:dead`, '-', '+')) ?? []).map((d) => (d.message as Record<string, string>)._id)
  assert.equal(dead, [garbage, bad])
  assert.is(a.stats().deadLettered, 2)
  assert.is(a.stats().entries, 1)
})

/** The group's `lag` as Redis itself replies to XINFO GROUPS: a number, null (nil: it cannot count), undefined (no field: < 7.0). */
async function lagInRedis(stream: string): Promise<unknown> {
  const reply = await redis.sendCommand(['XINFO', 'GROUPS', stream]) as Array<unknown[] | Record<string, unknown>>
  for (const group of reply) {
    // A flat [name, value, …] list as RESP2 sends it, or the object this client makes of it.
    const fields = Array.isArray(group)
      ? Object.fromEntries(group.flatMap((v, i) => (i % 2 === 0 ? [[String(v), group[i + 1]]] : [])))
      : group
    if (fields.name === 'g') return fields.lag
  }
  throw new Error(`no group g on ${stream}`)
}

/** A publisher that holds the agent on its first read until `open()`: what it has not read stays unread meanwhile. */
function gate(): Publisher & { open(): void } {
  let open = (): void => {}
  const opened = new Promise<void>((resolve) => { open = resolve })
  return { name: 'gate', async publish() { await opened }, async close() {}, open: () => open() }
}

/** Five entries, an agent that reads two (readCount 2) and is held there: three unread. */
async function heldAgent(stream: string): Promise<{ a: Agent, held: ReturnType<typeof gate>, ids: string[] }> {
  const ids: string[] = []
  for (let i = 0; i < 5; i++) ids.push(await add(stream, records(1, i)))
  const held = gate()
  const a = agent({ stream, publishers: [held], readCount: 2 })
  await a.ready
  await until(async () => (await redis.xPending(stream, 'g')).pending === 2, 'the agent to read two entries')
  return { a, held, ids }
}

it('lag is the number of entries the group has not read, as XINFO GROUPS counts them; 0 once caught up', async () => {
  const stream = `s${++n}`
  const { a, held } = await heldAgent(stream)
  try {
    const counted = await lagInRedis(stream)
    if (counted === undefined) { // Redis < 7.0 has no lag to report: unknown, even with entries plainly unread
      await sleep(1200) // a refresh (every second) has come and gone
      assert.is(a.stats().lag, null)
      return
    }
    assert.is(counted, 3)
    await until(() => a.stats().lag === 3, 'the agent to report lag 3', 3000)
    assert.ok(statusLine(agentStats(), a.stats(), 1000).includes(' · lag 3 · '))
  } finally { held.open() }
  await until(() => a.stats().entries === 5, 'the rest to be read')
  await until(() => a.stats().lag === 0, 'lag 0 once every entry was read', 3000)
})

it('a lag Redis cannot count (an unread entry deleted) is null in stats() and "lag ?" on the status line, not 0', async () => {
  const stream = `s${++n}`
  const { a, held, ids } = await heldAgent(stream)
  try {
    const known = await lagInRedis(stream) !== undefined
    if (known) await until(() => a.stats().lag === 3, 'a known lag first, so that null below is a change', 3000)
    assert.is(await redis.xDel(stream, ids[3]), 1)
    // Redis itself: nil since the deletion (7.0+), or no field at all (< 7.0).
    assert.is(await lagInRedis(stream), known ? null : undefined)
    await until(() => a.stats().lag === null, 'the agent to report the lag unknown', 3000)
    const line = statusLine(agentStats(), a.stats(), 1000)
    assert.ok(line.includes(' · lag ? · '), line)
    assert.is(JSON.parse(JSON.stringify(a.stats())).lag, null)
  } finally { held.open() }
})

test('with Redis unreachable from the start, stop() returns at once and ready rejects', async () => {
  const errors: Error[] = []
  const a = startAgent({ redis: `redis://127.0.0.1:${await freePort()}`, publishers: [recorder()], onError: (e) => errors.push(e) })
  await waitFor('a warning', () => errors.length > 0, 5000)
  const started = Date.now()
  await a.stop()
  assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`)
  try { await a.ready; assert.unreachable() } catch (e) { assert.match((e as Error).message, /stopped before it was ready/) }
  assert.is(errors.length, 1, errors.map((e) => e.message).join('\n'))
})

test('stop() never rejects, not even for a publisher whose close() throws instead of rejecting', async () => {
  const errors: Error[] = []
  const throwing: Publisher = { name: 'throwing', async publish() {}, close() { throw new Error('close failed') } }
  // Redis unreachable: the agent's connections are gone before the publishers close, so a rejection leaks nothing.
  const a = startAgent({ redis: `redis://127.0.0.1:${await freePort()}`, publishers: [throwing], onError: (e) => errors.push(e) })
  await waitFor('a warning', () => errors.length > 0, 5000)
  const outcome = await a.stop().then(() => 'resolved', (e: unknown) => `rejected: ${String(e)}`)
  assert.is(outcome, 'resolved')
})

test.run()
