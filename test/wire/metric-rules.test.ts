/** The name and value rules the door (`metrics.*`) and every encoder share. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  canonicalName, forgesStandard, inRange, MAX_METRIC_VALUE, NAME_OK, NAME_RESERVED, NAME_UNPRINTABLE, nameVerdict, setOwn,
  STANDARD_METRICS,
} from '../../src/wire/metric-rules.js'

test('STANDARD_METRICS are the two timers and three counters the collector writes', () => {
  assert.equal([...STANDARD_METRICS].sort(), ['Aborted', 'ClientError', 'CpuTime', 'Failure', 'RequestTime'])
})

test('MAX_METRIC_VALUE is 1e15, below 2^53 so integer counts stay exact', () => {
  assert.is(MAX_METRIC_VALUE, 1e15)
  assert.ok(MAX_METRIC_VALUE < Number.MAX_SAFE_INTEGER, 'below 2^53')
  assert.is(MAX_METRIC_VALUE + 1 - MAX_METRIC_VALUE, 1, 'a count at the bound still moves by one')
})

test('inRange: a number with |value| ≤ 1e15, both bounds included', () => {
  const yes = [0, -0, 1, -1, 0.5, Number.MIN_VALUE, 1e15, -1e15, 999_999_999_999_999.9]
  assert.equal(yes.map(inRange), Array<boolean>(yes.length).fill(true))
})

test('inRange: past ±1e15 by the least step, NaN, ±Infinity and what is not a number are out', () => {
  // 1e15 + 0.125 is the next double above 1e15.
  const no: unknown[] = [
    1e15 + 0.125, -1e15 - 0.125, 2e15, 1e306, Number.MAX_VALUE, -Number.MAX_VALUE, NaN, Infinity, -Infinity,
    '1', '', null, undefined, true, 1n, [1], { valueOf: () => 1 }, new Number(1),
  ]
  assert.equal(no.map(inRange), Array<boolean>(no.length).fill(false))
})

test('canonicalName keeps [A-Za-z0-9_.-] and replaces every other UTF-16 unit by _', () => {
  const names = ['db.query', 'a-b_c.D9', 'db query|x', 'a:b|c@d#e', 'x\ny', 'tab\there', 'zürich', '😀', 'a=b,c', '"q"', 'back\\slash']
  assert.equal(names.map(canonicalName), [
    'db.query', 'a-b_c.D9', 'db_query_x', 'a_b_c_d_e', 'x_y', 'tab_here', 'z_rich', '__', 'a_b_c', '_q_', 'back_slash',
  ])
})

test('canonicalName collapses runs of dots, trims a leading and a trailing dot, and makes an empty name _', () => {
  const names = ['.Failure', 'RequestTime.', 'Aborted..', 'a..b', 'a...b.c', '..a..b..', '.a.', '.', '...', '']
  assert.equal(names.map(canonicalName), ['Failure', 'RequestTime', 'Aborted', 'a.b', 'a.b.c', 'a.b', 'a', '_', '_', '_'])
})

test('canonicalName answers the same after its cache of 4,096 names was cleared', () => {
  const first = 'first name|x'
  assert.is(canonicalName(first), 'first_name_x')
  for (let i = 0; i < 5000; i++) assert.is(canonicalName(`n ${i}`), `n_${i}`)
  assert.is(canonicalName(first), 'first_name_x')
})

test('forgesStandard: the exact standard name with its own kind is the real metric', () => {
  const real: Array<[string, 'counter' | 'timer']> = [
    ['RequestTime', 'timer'], ['CpuTime', 'timer'], ['Failure', 'counter'], ['ClientError', 'counter'], ['Aborted', 'counter'],
  ]
  assert.equal(real.map(([name, kind]) => forgesStandard(name, kind)), [false, false, false, false, false])
})

test('forgesStandard: a standard name with the other kind, or one that only normalises to it, forges', () => {
  const forged: Array<[string, 'counter' | 'timer']> = [
    ['RequestTime', 'counter'], ['CpuTime', 'counter'], ['Failure', 'timer'], ['ClientError', 'timer'], ['Aborted', 'timer'],
    ['.Failure', 'counter'], ['Aborted..', 'counter'], ['RequestTime.', 'timer'], ['.CpuTime.', 'timer'], ['..ClientError', 'counter'],
  ]
  assert.equal(forged.map(([name, kind]) => forgesStandard(name, kind)), Array<boolean>(forged.length).fill(true))
})

test('forgesStandard: names that do not normalise to a standard one are the app\'s own', () => {
  const own = ['Failure.rate', 'failure', 'FAILURE', 'Request Time', 'RequestTime_', 'db.Failure', 'Client Error', '', '_']
  for (const kind of ['counter', 'timer'] as const) {
    assert.equal(own.map((name) => forgesStandard(name, kind)), Array<boolean>(own.length).fill(false), kind)
  }
})

test('nameVerdict: control characters, lone surrogates and blank names are unprintable', () => {
  const names = ['k\n', 'a\rb', '\0', '\t', 'del\x7f', '\x1f', '\uD800', 'x\uDE00', '', ' ', '  \t ', '\u00a0', '\u2028']
  assert.equal(names.map(nameVerdict), Array<number>(names.length).fill(NAME_UNPRINTABLE))
})

test('nameVerdict: a standard name, exactly or after normalisation, is reserved; the rest is ok', () => {
  const reserved = ['Failure', '.Failure', 'RequestTime.', 'Aborted..', 'CpuTime', 'ClientError']
  assert.equal(reserved.map(nameVerdict), Array<number>(reserved.length).fill(NAME_RESERVED))
  const ok = ['db.query', 'Failure.rate', 'a b', 'zürich', 'a\uD83D\uDE00', '__proto__', 'constructor', '#', '\\']
  assert.equal(ok.map(nameVerdict), Array<number>(ok.length).fill(NAME_OK))
  assert.equal([NAME_OK, NAME_UNPRINTABLE, NAME_RESERVED], [0, 1, 2])
})

test('setOwn writes __proto__ as an own, enumerable, writable key and leaves every prototype alone', () => {
  const counters: Record<string, unknown> = {}
  setOwn(counters, '__proto__', { polluted: true })
  assert.is(Object.getPrototypeOf(counters), Object.prototype)
  assert.equal(Object.keys(counters), ['__proto__'])
  assert.equal(Object.getOwnPropertyDescriptor(counters, '__proto__'), {
    value: { polluted: true }, enumerable: true, writable: true, configurable: true,
  })
  assert.is((counters as { polluted?: unknown }).polluted, undefined)
  assert.is(({} as { polluted?: unknown }).polluted, undefined)
  assert.is(JSON.stringify(counters), '{"__proto__":{"polluted":true}}')
  // Set again (a second recording of the same name): the own value changes, still no prototype change.
  setOwn(counters, '__proto__', 2)
  assert.is(Object.getOwnPropertyDescriptor(counters, '__proto__')?.value, 2)
  assert.is(Object.getPrototypeOf(counters), Object.prototype)
})

test('setOwn writes constructor and ordinary names by plain assignment, as own keys in insertion order', () => {
  const timers: Record<string, number> = {}
  setOwn(timers, 'constructor', 3)
  setOwn(timers, 'db', 1.5)
  setOwn(timers, '__proto__', 4)
  assert.equal(Object.entries(timers), [['constructor', 3], ['db', 1.5], ['__proto__', 4]])
  assert.is(Object.getPrototypeOf(timers), Object.prototype)
  assert.ok(Object.hasOwn(timers, 'constructor'), 'constructor is an own key, not Object')
})

test.run()
