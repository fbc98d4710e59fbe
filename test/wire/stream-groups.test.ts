/**
 * The group head both stream versions share, read directly: every malformed branch, each with its own message
 * (stream-encoding.test.ts sees only that decoding failed).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkGroupHead, isIndex, readGroup } from '../../src/wire/stream-groups.js'

const strings = ['', 'users.id', 'GET', 'shop']
const dims: Array<Record<string, string>> = [{}, { service: 'shop' }]

class Malformed extends Error {}
const malformed = (message: string): Error => new Malformed(message)

/** The message `checkGroupHead` threw with, or `undefined` when the head is good; `readGroup` must say the same. */
function refusal(g: readonly unknown[], i = 0): string | undefined {
  const said = (read: () => unknown): string | undefined => {
    try {
      read()
      return undefined
    } catch (e) {
      assert.instance(e, Malformed, `threw ${String(e)}, not the malformed() error`)
      return (e as Error).message
    }
  }
  const head = said(() => checkGroupHead(g, i, strings.length, dims.length, malformed))
  assert.is(said(() => readGroup(g, i, strings, dims, malformed, 200, false, 1)), head, 'readGroup checks the head alike')
  return head
}

test('isIndex: an integer from 0 to size - 1', () => {
  assert.equal([0, 1, 2, -0].map((x) => isIndex(x, 3)), [true, true, true, true])
})

test('isIndex: past the end, negative, fractional, not a number, or any index into an empty table, is not one', () => {
  const no: unknown[] = [3, 4, -1, 0.5, 2.0000001, NaN, Infinity, '0', '1', null, undefined, true, [0], 1n]
  assert.equal(no.map((x) => isIndex(x, 3)), Array<boolean>(no.length).fill(false))
  assert.is(isIndex(0, 0), false)
})

test('readGroup reads kind, prefix, route, method and dimensions at offset i, with the status given (v=1: no count)', () => {
  const g = [0, 0, 1, 2, 1, /* next group */ 1, 3, 0, 0, 0]
  assert.equal(readGroup(g, 0, strings, dims, malformed, 200, false, undefined), {
    kind: 'request', prefix: '', route: 'users.id', method: 'GET', dimensions: { service: 'shop' },
    status: 200, aborted: false, records: undefined,
  })
  assert.equal(readGroup(g, 5, strings, dims, malformed, 0, false, undefined), {
    kind: 'process', prefix: 'shop', route: '', method: '', dimensions: {}, status: 0, aborted: false, records: undefined,
  })
})

test('readGroup: a v=2 group with its status, aborted flag and record count, as one object', () => {
  const g = [0, 0, 1, 2, 1, /* v=2 rest */ 404, 1, 7]
  assert.equal(readGroup(g, 0, strings, dims, malformed, 404, true, 7), {
    kind: 'request', prefix: '', route: 'users.id', method: 'GET', dimensions: { service: 'shop' }, status: 404, aborted: true, records: 7,
  })
  assert.is(readGroup(g, 0, strings, dims, malformed, 404, true, 7).dimensions, dims[1])
})

test('readGroup hands out the decoded dimension object itself, not a copy', () => {
  assert.is(readGroup([0, 0, 1, 2, 1], 0, strings, dims, malformed, 200, false, undefined).dimensions, dims[1])
})

test('a kind other than 0 or 1 is a bad group kind', () => {
  for (const kind of [2, -1, 0.5, '0', '1', true, false, null, undefined, [0]]) {
    assert.is(refusal([kind, 0, 1, 2, 1]), 'bad group kind', String(kind))
  }
  assert.is(refusal([]), 'bad group kind', 'an empty table read at 0')
})

test('a prefix, route or method that is not an index into the strings is a bad group string index', () => {
  for (const bad of [4, -1, 1.5, '1', null, undefined]) {
    for (const at of [1, 2, 3]) {
      const g: unknown[] = [0, 0, 1, 2, 1]
      g[at] = bad
      assert.is(refusal(g), 'bad group string index', `${String(bad)} at ${at}`)
    }
  }
  assert.is(refusal([1, 0, 1]), 'bad group string index', 'a head cut after the route')
})

test('a dimension set that is not an index into the sets is a bad group dimension index', () => {
  for (const bad of [2, -1, 0.5, '0', null, undefined]) assert.is(refusal([0, 0, 1, 2, bad]), 'bad group dimension index', String(bad))
  assert.is(refusal([0, 0, 1, 2]), 'bad group dimension index', 'a head cut before its dimension set')
})

test('the head is read at i, not at 0: a bad head further on is refused, a bad one before i is not looked at', () => {
  assert.is(refusal([0, 0, 1, 2, 1, 0, 0, 1, 2, 9], 5), 'bad group dimension index')
  assert.is(refusal([9, 9, 9, 9, 9, 0, 0, 1, 2, 1], 5), undefined)
})

test.run()
