/** EntryDictionary: each string of a stream entry once, each distinct dimension set once, as string indices. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EntryDictionary } from '../../src/wire/entry-dictionary.js'
import { setOwn } from '../../src/wire/metric-rules.js'

test('string() numbers strings in first-use order and gives a string seen before its first index', () => {
  const dict = new EntryDictionary()
  assert.equal(['users.id', 'GET', 'users.id', '', 'RequestTime', 'GET', ''].map((s) => dict.string(s)), [0, 1, 0, 2, 3, 1, 2])
  assert.equal(dict.strings, ['users.id', 'GET', '', 'RequestTime'])
  assert.equal(dict.dimSets, [])
})

test('a dimension set is its pairs of key and value indices, keys sorted, strings shared with the rest of the entry', () => {
  const dict = new EntryDictionary()
  dict.string('shop')
  assert.is(dict.dimensionSet({ service: 'shop', env: 'prod', Zone: 'eu' }), 0)
  // Sorted by code unit: 'Zone' (Z = 0x5a) before 'env' and 'service'; 'shop' keeps the index it had.
  assert.equal(dict.strings, ['shop', 'Zone', 'eu', 'env', 'prod', 'service'])
  assert.equal(dict.dimSets, [[1, 2, 3, 4, 5, 0]])
})

test('an equal set is the same set, whatever object holds it and in whatever key order', () => {
  const dict = new EntryDictionary()
  const shared = { service: 'shop', env: 'prod' }
  assert.equal([
    dict.dimensionSet(shared), dict.dimensionSet(shared), dict.dimensionSet({ env: 'prod', service: 'shop' }),
    dict.dimensionSet({ service: 'shop' }), dict.dimensionSet({}), dict.dimensionSet({ service: 'shop', env: 'prod' }),
    dict.dimensionSet({}),
  ], [0, 0, 0, 1, 2, 0, 2])
  assert.equal(dict.dimSets, [[0, 1, 2, 3], [2, 3], []])
  assert.equal(dict.strings, ['env', 'prod', 'service', 'shop'])
})

test('a key that is also a value elsewhere is one string: sets that swap keys and values stay distinct', () => {
  const dict = new EntryDictionary()
  assert.equal([dict.dimensionSet({ a: 'b' }), dict.dimensionSet({ b: 'a' }), dict.dimensionSet({ a: 'b', b: 'a' })], [0, 1, 2])
  assert.equal(dict.strings, ['a', 'b'])
  assert.equal(dict.dimSets, [[0, 1], [1, 0], [0, 1, 1, 0]])
})

test('sets that only a NUL or a comma inside a text tells apart stay distinct: sets are keyed by indices', () => {
  const dict = new EntryDictionary()
  const sets: Array<Record<string, string>> = [
    { tenant: 'a\0zone\0b' }, { tenant: 'a', zone: 'b' },
    { 'x,1': '2' }, { x: '1,2' }, { '0,1,': '' }, { '': '0,1,' },
  ]
  assert.equal(sets.map((d) => dict.dimensionSet(d)), [0, 1, 2, 3, 4, 5])
  assert.is(dict.dimSets.length, 6)
})

test('non-string values are left out of the set; inherited keys are not part of it', () => {
  const dict = new EntryDictionary()
  // Hand-built records (another producer) may hold anything; the type says strings.
  const mixed = { service: 'shop', n: 1, none: null, nested: { a: 'b' } } as unknown as Record<string, string>
  const inherited = Object.assign(Object.create({ team: 'web' }) as Record<string, string>, { service: 'shop' })
  assert.equal([dict.dimensionSet(mixed), dict.dimensionSet(inherited), dict.dimensionSet({ service: 'shop' })], [0, 0, 0])
  assert.equal(dict.strings, ['service', 'shop'])
  assert.equal(dict.dimSets, [[0, 1]])
})

test('a dimension named __proto__ or constructor is an own key like any other', () => {
  const dict = new EntryDictionary()
  const dims: Record<string, string> = {}
  setOwn(dims, '__proto__', 'p')
  setOwn(dims, 'constructor', 'c')
  assert.is(dict.dimensionSet(dims), 0)
  assert.equal(dict.strings, ['__proto__', 'p', 'constructor', 'c'])
  assert.equal(dict.dimSets, [[0, 1, 2, 3]])
  assert.is(dict.dimensionSet({ constructor: 'c' }), 1, 'without __proto__ it is another set')
})

test('dictionaries are independent: each entry numbers its own strings from 0', () => {
  const a = new EntryDictionary()
  const b = new EntryDictionary()
  const dims = { service: 'shop' }
  a.string('first')
  assert.equal([a.dimensionSet(dims), b.dimensionSet(dims), b.string('first')], [0, 0, 2])
  assert.equal(a.strings, ['first', 'service', 'shop'])
  assert.equal(b.strings, ['service', 'shop', 'first'])
})

test.run()
