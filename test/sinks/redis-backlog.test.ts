/** The Redis sink's local queue, on its own: no Redis needed. */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Backlog } from '../../src/sinks/redis-backlog.js'
import type { EncodedEntry } from '../../src/wire/stream-encoding.js'

const test = suite('Backlog')

/** An entry of `n` records, named by its payload. */
const entry = (p: string, n: number): EncodedEntry => ({ v: '2', n, p, bytes: Buffer.byteLength(p) })
function drain(b: Backlog): string[] {
  const out: string[] = []
  for (let e = b.shift(); e !== undefined; e = b.shift()) out.push(e.p)
  return out
}

test('keeps entries oldest first and counts records, not entries', () => {
  const b = new Backlog(100)
  b.push(entry('a', 3))
  b.push(entry('b', 5))
  assert.is(b.entries, 2)
  assert.is(b.records, 8)
  assert.is(b.shift()?.p, 'a')
  assert.is(b.records, 5)
  assert.equal(drain(b), ['b'])
  assert.is(b.shift(), undefined)
  assert.is(b.records, 0)
})

test('over maxRecords the oldest entries go, and the records they held are counted once', () => {
  const b = new Backlog(10)
  b.push(entry('a', 4))
  b.push(entry('b', 4))
  assert.is(b.takeDropped(), 0)
  b.push(entry('c', 4))
  assert.is(b.records, 8)
  assert.is(b.takeDropped(), 4)
  assert.is(b.takeDropped(), 0, 'taking resets the count')
  assert.equal(drain(b), ['b', 'c'])
})

test('an entry larger than maxRecords alone is dropped whole; maxRecords 0 keeps nothing', () => {
  const b = new Backlog(10)
  b.push(entry('a', 2))
  b.push(entry('huge', 11))
  assert.is(b.entries, 0)
  assert.is(b.takeDropped(), 13)
  const none = new Backlog(0)
  none.push(entry('x', 1))
  assert.is(none.entries, 0)
  assert.is(none.takeDropped(), 1)
})

test('unshift puts entries back in front in the order given, ahead of what never left', () => {
  const b = new Backlog(100)
  for (const p of ['a', 'b', 'c', 'd']) b.push(entry(p, 1))
  const a = b.shift() as EncodedEntry
  const bb = b.shift() as EncodedEntry
  b.unshift(a, bb)
  assert.is(b.records, 4)
  assert.equal(drain(b), ['a', 'b', 'c', 'd'])
  // Into an array with no free slot in front (nothing shifted yet).
  const fresh = new Backlog(100)
  fresh.push(entry('z', 1))
  fresh.unshift(entry('x', 1), entry('y', 1))
  assert.equal(drain(fresh), ['x', 'y', 'z'])
})

test('unshift over maxRecords drops the oldest, which are the entries put back', () => {
  const b = new Backlog(3)
  for (const p of ['a', 'b', 'c']) b.push(entry(p, 1))
  const a = b.shift() as EncodedEntry
  b.push(entry('d', 1))
  b.unshift(a)
  assert.is(b.takeDropped(), 1)
  assert.equal(drain(b), ['b', 'c', 'd'])
})

test('clear empties it and returns the records it held; drops counted before stay to be taken', () => {
  const b = new Backlog(5)
  for (const p of ['a', 'b', 'c']) b.push(entry(p, 2))
  assert.is(b.clear(), 4)
  assert.is(b.entries, 0)
  assert.is(b.records, 0)
  assert.is(b.takeDropped(), 2)
  b.push(entry('e', 1))
  assert.equal(drain(b), ['e'])
})

test('a long run of shifts (compaction of the consumed prefix) keeps every entry in order', () => {
  const b = new Backlog(1_000_000)
  const sent: string[] = []
  for (let i = 0; i < 5000; i++) { b.push(entry(`e${i}`, 1)); sent.push(`e${i}`) }
  const got: string[] = []
  for (let i = 0; i < 3000; i++) got.push((b.shift() as EncodedEntry).p)
  const back = b.shift() as EncodedEntry
  b.unshift(back)
  got.push(...drain(b))
  assert.equal(got, sent)
  assert.is(b.records, 0)
})

test.run()
