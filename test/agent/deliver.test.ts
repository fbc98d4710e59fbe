/**
 * deliver() on its own, with publishers written here (the Publisher interface is the package's own): which
 * failures are retried, which entries are refused and after how many deliveries, and the abort at the drain
 * deadline. No Redis needed; retries use a 1 ms backoff.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { deliver, DeliveryAborted, type DeliverContext } from '../../src/agent/deliver.js'
import { PublishError, type AgentEntry, type Publisher } from '../../src/agent/publisher.js'
import { entryOf } from '../support/entries.js'

const test = suite('deliver')
// deliver()'s backoff sleeps on unref'd timers (they never hold the agent open): this keeps the test process up.
let keepAlive: NodeJS.Timeout | undefined
test.before(() => { keepAlive = setInterval(() => {}, 1000) })
test.after(() => { clearInterval(keepAlive) })

function entry(id: string): AgentEntry {
  return entryOf(id, [{
    kind: 'request', prefix: '', route: 'users.id', method: 'GET', status: 200, aborted: false, dimensions: {},
    counters: { Failure: 0 }, timers: { RequestTime: 1 }, timestamp: 1763798400000,
  }])
}

/** A publisher that records each call's entry ids and answers with what `fail` returns (undefined: accepted). */
function publisher(name: string, fail: (ids: string[], call: number) => unknown = () => undefined): Publisher & { calls: string[][] } {
  const calls: string[][] = []
  return {
    name, calls,
    async publish(entries) {
      const ids = entries.map((e) => e.id)
      calls.push(ids)
      const error = fail(ids, calls.length)
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- a publisher may reject with anything
      if (error !== undefined) throw error
    },
    async close() {},
  }
}

interface Log { retries: Array<[string, number]>, successes: string[], counted: Array<[string, number]>, keptAlive: string[][] }

function context(publishers: Publisher[], options: Partial<DeliverContext> = {}): { ctx: DeliverContext, log: Log } {
  const log: Log = { retries: [], successes: [], counted: [], keptAlive: [] }
  const ctx: DeliverContext = {
    publishers, retryMinMs: 1, retryMaxMs: 1, maxDeliveries: 3, signal: new AbortController().signal, keepAliveMs: 60_000,
    deliveries: () => 1,
    onRetry: (p, _error, attempt) => { log.retries.push([p.name, attempt]) },
    onSuccess: (p) => { log.successes.push(p.name) },
    keepAlive: (entries) => { log.keptAlive.push(entries.map((e) => e.id)) },
    countDelivery: (e, delivery) => { log.counted.push([e.id, delivery]) },
    ...options,
  }
  return { ctx, log }
}

test('nothing to deliver: no publisher is called', async () => {
  const p = publisher('p')
  const { ctx } = context([p])
  assert.equal(await deliver([], ctx), new Map())
  assert.equal(p.calls, [])
})

test('a transient failure is retried with backoff, uncounted, and only by the publisher that failed', async () => {
  const unavailable = new PublishError('503 Service Unavailable', { permanent: false })
  const flaky = publisher('flaky', (_ids, call) => call <= 2 ? unavailable : undefined)
  const steady = publisher('steady')
  const { ctx, log } = context([flaky, steady])
  const refused = await deliver([entry('1-0'), entry('2-0')], ctx)
  assert.equal(refused, new Map())
  assert.equal(flaky.calls, [['1-0', '2-0'], ['1-0', '2-0'], ['1-0', '2-0']])
  assert.equal(steady.calls, [['1-0', '2-0']])
  assert.equal(log.retries, [['flaky', 0], ['flaky', 1]])
  assert.equal(log.counted, [], 'a transient failure is no delivery')
  assert.equal(log.successes.sort(), ['flaky', 'steady'])
})

test('a permanent failure isolates the bad entry one by one and refuses it alone, at its current delivery count', async () => {
  const picky = publisher('picky', (ids) => ids.includes('2-0') ? new PublishError('400 bad field', { permanent: true }) : undefined)
  const { ctx, log } = context([picky], { deliveries: (id) => id === '2-0' ? 2 : 1 })
  const refused = await deliver([entry('1-0'), entry('2-0'), entry('3-0')], ctx)
  assert.equal(refused, new Map([['2-0', { reason: 'picky: 400 bad field', deliveries: 2 }]]))
  assert.equal(picky.calls, [['1-0', '2-0', '3-0'], ['1-0'], ['2-0'], ['3-0']])
  assert.equal(log.retries, [])
  assert.equal(log.counted, [], 'a permanent refusal counts no further delivery')
})

test('an unknown failure counts a delivery per attempt, recorded each time, until maxDeliveries refuses the entry', async () => {
  const bug = new TypeError("Cannot read properties of undefined (reading 'x')")
  const buggy = publisher('buggy', (ids) => ids.includes('2-0') ? bug : undefined)
  const { ctx, log } = context([buggy], { maxDeliveries: 3 })
  const refused = await deliver([entry('1-0'), entry('2-0'), entry('3-0')], ctx)
  assert.equal(refused, new Map([['2-0', {
    reason: "buggy: failed 3 deliveries (maxDeliveries 3): TypeError: Cannot read properties of undefined (reading 'x')", deliveries: 3,
  }]]))
  // The whole batch failed once (delivery 2 for each), then 2-0 alone failed once more (delivery 3), then it was refused.
  assert.equal(log.counted, [['1-0', 2], ['2-0', 2], ['3-0', 2], ['2-0', 3]])
  assert.equal(buggy.calls, [['1-0', '2-0', '3-0'], ['1-0'], ['2-0'], ['2-0'], ['3-0']])
  assert.equal(log.retries, [['buggy', 0]])
})

test('a rejection that is not an Error is an unknown failure too, described without throwing', async () => {
  const odd = publisher('odd', () => null)
  const { ctx } = context([odd], { maxDeliveries: 1 })
  const refused = await deliver([entry('1-0')], ctx)
  const reason = 'odd: failed 1 deliveries (maxDeliveries 1): non-Error failure: null'
  assert.equal(refused, new Map([['1-0', { reason, deliveries: 1 }]]))
})

test('publishers count deliveries on one shared count per entry', async () => {
  const a = publisher('a', (ids) => ids.includes('1-0') ? new Error('a broke') : undefined)
  const b = publisher('b', (ids) => ids.includes('1-0') ? new Error('b broke') : undefined)
  const { ctx, log } = context([a, b], { maxDeliveries: 2 })
  const refused = await deliver([entry('1-0')], ctx)
  // a's failed attempt was delivery 1 and made it 2 (recorded); b's failure then found 2 = maxDeliveries and
  // refused it without a retry, as did a's retry. Refusals are merged in publisher order: a's reason is kept.
  assert.equal(log.counted, [['1-0', 2]])
  assert.equal(a.calls, [['1-0'], ['1-0']])
  assert.equal(b.calls, [['1-0']])
  assert.equal(refused, new Map([['1-0', { reason: 'a: failed 2 deliveries (maxDeliveries 2): a broke', deliveries: 2 }]]))
})

test('while retrying, the entries are kept alive at least every keepAliveMs', async () => {
  const flaky = publisher('flaky', (_ids, call) => call <= 3 ? new PublishError('timeout', { permanent: false }) : undefined)
  // keepAliveMs 0: every retry is past the keep-alive period.
  const { ctx, log } = context([flaky], { keepAliveMs: 0 })
  await deliver([entry('1-0'), entry('2-0')], ctx)
  assert.equal(log.keptAlive, [['1-0', '2-0'], ['1-0', '2-0'], ['1-0', '2-0']])
})

test('while isolating entries one by one, the whole read is kept alive, not only the entry being retried', async () => {
  // The batch is refused, so each entry goes alone; the second then meets an outage twice.
  const pub = publisher('pub', (ids, call) => ids.length > 1 ? new PublishError('400: bad entry', { permanent: true })
    : ids[0] === '2-0' && call <= 4 ? new PublishError('503', { permanent: false }) : undefined)
  const { ctx, log } = context([pub], { keepAliveMs: 0 })
  await deliver([entry('1-0'), entry('2-0'), entry('3-0')], ctx)
  // Before, only ['2-0'] was: another agent could reclaim 1-0 and 3-0 meanwhile and publish them again.
  assert.ok(log.keptAlive.length >= 2, JSON.stringify(log.keptAlive))
  for (const held of log.keptAlive) assert.equal(held, ['1-0', '2-0', '3-0'])
})

test('the abort signal ends a retry at once with DeliveryAborted, mid-sleep', async () => {
  const controller = new AbortController()
  const down = publisher('down', () => new PublishError('503', { permanent: false }))
  // A backoff of a minute: only the abort can end the sleep.
  const { ctx, log } = context([down], {
    signal: controller.signal, retryMinMs: 60_000, retryMaxMs: 60_000, keepAliveMs: 60_000,
    onRetry: (p, _e, attempt) => { log.retries.push([p.name, attempt]); controller.abort() },
  })
  const started = performance.now()
  try {
    await deliver([entry('1-0')], ctx)
    assert.unreachable('deliver resolved')
  } catch (error) {
    assert.instance(error, DeliveryAborted)
  }
  assert.ok(performance.now() - started < 1000, `${performance.now() - started} ms`)
  assert.equal(down.calls, [['1-0']])
  assert.equal(log.retries, [['down', 0]])
})

test.run()
