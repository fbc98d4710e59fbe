import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { backoffDelay, sleep } from '../../src/util/backoff.js'

const test = suite('backoff')

/** Runs `fn` with Math.random returning `value`. */
function withRandom<T>(value: number, fn: () => T): T {
  const random = Math.random
  Math.random = () => value
  try { return fn() } finally { Math.random = random }
}

test('the delay doubles from min per attempt and stops at max', () => {
  // Math.random() = 0.5 is the middle of the jitter: no jitter at all.
  const delays = withRandom(0.5, () => Array.from({ length: 8 }, (_, attempt) => backoffDelay(attempt, 100, 5000)))
  assert.equal(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000])
  assert.is(withRandom(0.5, () => backoffDelay(1e6, 250, 30_000)), 30_000, 'a huge attempt count neither overflows nor exceeds max')
})

test('the jitter spans exactly 0.8× to 1.2× of the delay', () => {
  assert.is(withRandom(0, () => backoffDelay(0, 100, 5000)), 80)
  assert.is(withRandom(0, () => backoffDelay(10, 100, 5000)), 4000)
  // Math.random()'s largest value, 1 - 2^-53, rounds to the top of the range.
  assert.is(withRandom(1 - Number.EPSILON / 2, () => backoffDelay(10, 100, 5000)), 6000)
  assert.is(withRandom(1 - Number.EPSILON / 2, () => backoffDelay(0, 100, 5000)), 120)
  for (let i = 0; i < 1000; i++) {
    const d = backoffDelay(2, 250, 30_000)
    assert.ok(d >= 800 && d <= 1200, String(d))
  }
})

// sleep()'s timer is unref'd (it never holds a process open): a ref'd one keeps this test process alive meanwhile.
const keepAlive = (): (() => void) => { const timer = setInterval(() => {}, 1000); return () => { clearInterval(timer) } }

test('sleep resolves after its time', async () => {
  const release = keepAlive()
  const started = performance.now()
  await sleep(30)
  release()
  // Timers may fire up to 1 ms early as performance.now() measures.
  assert.ok(performance.now() - started >= 29, `${performance.now() - started} ms`)
})

test('an abort ends a sleep at once, and a sleep given an aborted signal does not wait at all', async () => {
  const controller = new AbortController()
  let done = false
  const started = performance.now()
  const long = sleep(60_000, controller.signal).then(() => { done = true })
  await new Promise((resolve) => setImmediate(resolve))
  assert.is(done, false)
  controller.abort()
  await long
  assert.is(done, true)
  assert.ok(performance.now() - started < 1000, `${performance.now() - started} ms`)
  let again = false
  const immediate = sleep(60_000, controller.signal).then(() => { again = true })
  await Promise.resolve()
  await Promise.resolve()
  assert.is(again, true)
  await immediate
})

test.run()
