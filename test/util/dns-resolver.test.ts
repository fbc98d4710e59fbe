import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { hostResolver, type HostResolverOptions } from '../../src/util/dns-resolver.js'

/** A resolver whose lookups settle only when the test says, on a clock the test moves. */
function harness(over: Partial<HostResolverOptions> = {}) {
  const lookups: { resolve(address: string): void, reject(error: Error): void }[] = []
  const errors: Error[] = []
  let clock = 1_000_000
  const resolver = hostResolver({
    host: 'statsd.internal', family: 4, timeoutMs: 60_000, ttlMs: 1000, retryMs: 500,
    onError: (e) => errors.push(e),
    resolve: () => new Promise<string>((resolve, reject) => lookups.push({ resolve, reject })),
    now: () => clock,
    ...over,
  })
  return { resolver, lookups, errors, advance: (ms: number) => void (clock += ms) }
}

const tick = () => new Promise((r) => setImmediate(r))

test('starts one lookup at once and shares it: no second lookup while it is in flight', async () => {
  const { resolver, lookups } = harness()
  assert.is(lookups.length, 1)
  for (let i = 0; i < 1000; i++) assert.is(resolver.current(), undefined)
  assert.is(lookups.length, 1)
  lookups[0]!.resolve('10.0.0.7')
  await tick()
  assert.is(resolver.current(), '10.0.0.7')
  resolver.close()
})

test('an answer is cached for ttlMs, then refreshed once while the old address keeps serving', async () => {
  const { resolver, lookups, advance } = harness()
  lookups[0]!.resolve('10.0.0.7')
  await tick()
  advance(999)
  assert.is(resolver.current(), '10.0.0.7')
  assert.is(lookups.length, 1)
  advance(1)
  assert.is(resolver.current(), '10.0.0.7', 'the old address serves during the refresh')
  assert.is(resolver.current(), '10.0.0.7')
  assert.is(lookups.length, 2)
  lookups[1]!.resolve('10.0.0.8')
  await tick()
  assert.is(resolver.current(), '10.0.0.8')
  resolver.close()
})

test('a failure is reported once and cached for retryMs; a failed refresh keeps the last address', async () => {
  const { resolver, lookups, errors, advance } = harness()
  lookups[0]!.reject(Object.assign(new Error('getaddrinfo EAI_AGAIN statsd.internal'), { code: 'EAI_AGAIN' }))
  await tick()
  assert.equal(errors.map((e) => e.message), ['getaddrinfo EAI_AGAIN statsd.internal'])
  advance(499)
  assert.is(resolver.current(), undefined)
  assert.is(lookups.length, 1, 'no lookup inside the negative cache')
  advance(1)
  resolver.current()
  assert.is(lookups.length, 2)
  lookups[1]!.resolve('10.0.0.7')
  await tick()
  advance(1000)
  resolver.current()
  lookups[2]!.reject(new Error('resolver down'))
  await tick()
  assert.is(resolver.current(), '10.0.0.7')
  assert.is(errors.length, 2)
  resolver.close()
})

test('a lookup past its timeout is reported and dropped by senders, but no second one starts until it returns', async () => {
  const { resolver, lookups, errors, advance } = harness({ timeoutMs: 20 })
  const alive = setInterval(() => {}, 1000) // the resolver's timer is unref'd, and a fake lookup holds nothing
  const first = await resolver.ready()
  clearInterval(alive)
  assert.is(first, undefined, 'ready() gives up at the timeout')
  assert.match(errors[0]!.message, /statsd\.internal timed out after 20 ms/)
  advance(10_000) // far past retryMs: still one lookup, since getaddrinfo would still hold its thread
  for (let i = 0; i < 100; i++) assert.is(await resolver.ready(), undefined)
  assert.is(lookups.length, 1)
  lookups[0]!.resolve('10.0.0.7') // it finally answers: the answer is used
  await tick()
  assert.is(await resolver.ready(), '10.0.0.7')
  assert.is(errors.length, 1)
  resolver.close()
})

test('ready() waits for the lookup in progress and gives its answer', async () => {
  const { resolver, lookups } = harness()
  const waiting = resolver.ready()
  lookups[0]!.resolve('10.0.0.7')
  assert.is(await waiting, '10.0.0.7')
  resolver.close()
})

test('close() lets the senders waiting on a lookup go', async () => {
  const { resolver } = harness()
  const waiting = resolver.ready()
  resolver.close()
  assert.is(await waiting, undefined)
})

test('the socket lookup answers IP literals and the cached host, and never resolves anything itself', async () => {
  const { resolver, lookups } = harness()
  const ask = (name: string) => new Promise<[Error | null, string, number]>((r) => resolver.lookup(name, {}, (e, a, f) => r([e, a, f])))
  assert.equal(await ask('0.0.0.0'), [null, '0.0.0.0', 4])
  assert.equal(await ask('::1'), [null, '::1', 6])
  const [error] = await ask('statsd.internal')
  assert.match(error!.message, /not resolved yet/)
  assert.is(lookups.length, 1)
  lookups[0]!.resolve('10.0.0.7')
  await tick()
  assert.equal(await ask('statsd.internal'), [null, '10.0.0.7', 4])
  assert.is(lookups.length, 1)
  resolver.close()
})

test('a resolve function that throws is a failure, not a crash', async () => {
  const errors: Error[] = []
  const resolver = hostResolver({
    host: 'h', family: 4, timeoutMs: 1000, ttlMs: 1000, retryMs: 1000,
    onError: (e) => errors.push(e),
    resolve: () => { throw new Error('bad resolver') },
  })
  assert.is(await resolver.ready(), undefined)
  assert.equal(errors.map((e) => e.message), ['bad resolver'])
  resolver.close()
})

test.run()
