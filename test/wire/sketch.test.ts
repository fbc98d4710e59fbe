import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { lognormal } from '../support/random.js'
import { bucketIndex, bucketValue, readRuns, Sketch, SKETCH_RELATIVE_ERROR, writeRuns } from '../../src/wire/sketch.js'

const exact = (sorted: number[], q: number): number => sorted[Math.floor(q * (sorted.length - 1))]

test('bucket k holds (2^((k-1)/32), 2^(k/32)], the Prometheus schema-5 boundaries', () => {
  assert.is(bucketIndex(1), 0)
  assert.is(bucketIndex(2), 32)
  assert.is(bucketIndex(2 ** (1 / 32) * 1.0001), 2)
  assert.ok(Math.abs(bucketValue(bucketIndex(10)) / 10 - 1) <= SKETCH_RELATIVE_ERROR)
  assert.ok(SKETCH_RELATIVE_ERROR > 0.0108 && SKETCH_RELATIVE_ERROR < 0.0109, String(SKETCH_RELATIVE_ERROR))
})

test('quantiles of a lognormal sample are within the stated relative error of the exact ones', () => {
  const values = lognormal(20_000, 1, 1.2)
  const s = new Sketch()
  for (const v of values) s.add(v)
  const sorted = [...values].sort((a, b) => a - b)
  for (const q of [0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1]) {
    const err = Math.abs(s.quantile(q) / exact(sorted, q) - 1)
    assert.ok(err <= SKETCH_RELATIVE_ERROR + 1e-12, `q ${q}: ${s.quantile(q)} vs ${exact(sorted, q)} (${err})`)
  }
  assert.is(s.count, 20_000)
  assert.is(s.min, sorted[0])
  assert.is(s.max, sorted[sorted.length - 1])
})

test('merging sketches answers like one sketch of all values, negatives and zeros included', () => {
  const parts = [lognormal(3000, 0, 1, 2), lognormal(3000, 2, 0.5, 3).map((v) => -v), [0, 0, 0, 5, 7]]
  const whole = new Sketch()
  const merged = new Sketch()
  for (const part of parts) {
    const s = new Sketch()
    for (const v of part) { s.add(v); whole.add(v) }
    merged.merge(s)
  }
  const sorted = parts.flat().sort((a, b) => a - b)
  for (const q of [0.1, 0.25, 0.5, 0.501, 0.75, 0.99]) {
    assert.is(merged.quantile(q), whole.quantile(q))
    const e = exact(sorted, q)
    assert.ok(e === 0 ? merged.quantile(q) === 0 : Math.abs(merged.quantile(q) / e - 1) <= SKETCH_RELATIVE_ERROR + 1e-12, `q ${q}`)
  }
  assert.is(merged.count, sorted.length)
})

test('clone() gives a copy that merging into leaves the original alone', () => {
  const a = new Sketch()
  a.add(1)
  const b = a.clone()
  b.merge(a)
  assert.is(a.count, 1)
  assert.is(b.count, 2)
})

test('runs survive a round trip, and malformed runs are refused', () => {
  const s = new Sketch()
  for (const v of [...lognormal(500, 0, 2, 4), 0, -3, 1e12, 1e-9]) s.add(v)
  const out: number[] = []
  writeRuns(out, s)
  const back = new Sketch()
  const read = readRuns(out, 0, back, { slots: 1e6 })
  assert.equal(read, { next: out.length, values: s.count - s.zero })
  const pairs = (x: Sketch): string => {
    const r: string[] = []
    x.forEachBucket((i, n, neg) => r.push(`${neg ? '-' : ''}${i}:${n}`))
    return r.join(',')
  }
  assert.is(pairs(back), pairs(s))
  for (const bad of [[1, 0], [2, 0, 0], [2, 0, 1.5], [2, 99999, 1], [3, 0, -5000, 1], [5, 0, 1], ['2', 0, 1], [2, 0, 1, 1]]) {
    assert.is(readRuns(bad, 0, new Sketch(), { slots: 1e6 }), undefined, JSON.stringify(bad))
  }
  assert.is(readRuns(out, 0, new Sketch(), { slots: 10 }), undefined, 'over the slot budget')
})

test('an empty sketch answers NaN; one value answers itself exactly', () => {
  const s = new Sketch()
  assert.ok(Number.isNaN(s.quantile(0.5)))
  s.add(3.7)
  assert.is(s.quantile(0.99), 3.7)
})

test.run()
