import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createWarner, WARNING_INTERVAL_MS, warningHandler } from '../../src/util/warn.js'

function recorder() {
  let clock = 1_000_000
  const lines: string[] = []
  const warner = createWarner(() => clock, (text, code) => lines.push(`${code} ${text}`))
  return { warner, lines, advance: (ms: number) => { clock += ms } }
}

test('the first warning of a code goes out at once, prefixed once; repeats within a minute are held back', () => {
  const { warner, lines, advance } = recorder()
  warner.warn('RM_A', 'first')
  warner.warn('RM_A', 'routemeter: second')
  advance(WARNING_INTERVAL_MS - 1)
  warner.warn('RM_A', 'third')
  assert.equal(lines, ['RM_A routemeter: first'])
})

test('after a minute the next warning of the code goes out, saying how many were held back', () => {
  const { warner, lines, advance } = recorder()
  for (let i = 0; i < 5; i++) warner.warn('RM_A', `n${i}`)
  advance(WARNING_INTERVAL_MS)
  warner.warn('RM_A', 'later')
  advance(WARNING_INTERVAL_MS)
  warner.warn('RM_A', 'much later')
  assert.equal(lines, ['RM_A routemeter: n0', 'RM_A routemeter: later (4 more like this in the last 60 s)', 'RM_A routemeter: much later'])
})

test('codes are limited independently; a lazy text is only built when emitted, and a throwing one falls back to the code', () => {
  const { warner, lines } = recorder()
  let built = 0
  warner.warn('RM_A', () => { built++; return 'a' })
  warner.warn('RM_A', () => { built++; return 'a again' })
  warner.warn('RM_B', () => { throw new Error('boom') })
  assert.is(built, 1)
  assert.equal(lines, ['RM_A routemeter: a', 'RM_B routemeter: RM_B'])
})

test('a throwing output never escapes, and the number of codes remembered is bounded', () => {
  const warner = createWarner(() => 0, () => { throw new Error('stderr closed') })
  for (let i = 0; i < 10_000; i++) warner.warn(`RM_${i}`, 'x')
  // Codes past the cap push out the oldest, so an early code can warn again: bounded memory, not silence.
  const seen: string[] = []
  const bounded = createWarner(() => 0, (_t, code) => seen.push(code))
  for (let i = 0; i < 300; i++) bounded.warn(`RM_${i}`, 'x')
  bounded.warn('RM_0', 'x')
  assert.is(seen.length, 301)
})

test('warningHandler appends a well-formed error code to the warning code', async () => {
  const seen: Array<{ code: string | undefined, message: string }> = []
  const listener = (w: Error & { code?: string }): void => {
    if (w.name === 'RouteMeterWarning') seen.push({ code: w.code, message: w.message })
  }
  process.on('warning', listener)
  try {
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND statsd.internal'), { code: 'ENOTFOUND' })
    warningHandler('RM_TEST_STATSD')(dns)
    warningHandler('RM_TEST_OTHER')(Object.assign(new Error('odd'), { code: 'not a code!' }))
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(seen, [
      { code: 'RM_TEST_STATSD_ENOTFOUND', message: 'routemeter: getaddrinfo ENOTFOUND statsd.internal' },
      { code: 'RM_TEST_OTHER', message: 'routemeter: odd' },
    ])
  } finally {
    process.off('warning', listener)
  }
})

test.run()
