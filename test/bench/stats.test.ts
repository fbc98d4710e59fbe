import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT as root } from '../support/run-node.js'

// The confidence interval bench/paired.mjs and bench/pool.mjs print for a median: the order statistics a
// binomial table gives (n = 6: the extremes; n = 60: the 22nd from each end; n = 100: the 40th and 61st), none
// below 6 values, and a coverage of at least 95 % on data of a known median.

interface Stats {
  medianInterval(xs: number[], level?: number): [number, number]
}

// The bench is plain JavaScript without types: imported by URL, typed here.
const STATS = pathToFileURL(path.join(root, 'bench', 'lib', 'stats.mjs')).href
const load = async (): Promise<Stats> => await import(STATS) as Stats

const ranks = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1)

test('medianInterval gives the order statistics of the binomial table, whatever order the values come in', async () => {
  const { medianInterval } = await load()
  assert.equal(medianInterval(ranks(6).reverse()), [1, 6])
  assert.equal(medianInterval(ranks(60)), [22, 39])
  assert.equal(medianInterval(ranks(100).sort(() => 0.5 - Math.random())), [40, 61])
  assert.equal(medianInterval(ranks(60), 0.5), [27, 34])
})

test('medianInterval gives no interval for fewer than 6 values', async () => {
  const { medianInterval } = await load()
  for (const n of [0, 1, 5]) assert.ok(medianInterval(ranks(n)).every(Number.isNaN), `n = ${n}`)
})

test('medianInterval holds the true median at least 95 % of the time (skewed data, 60 values)', async () => {
  const { medianInterval } = await load()
  // Exponential values of median ln 2; a fixed generator, so the count is the same every run.
  let seed = 12345
  const uniform = (): number => { seed = (seed * 48271) % 2147483647; return seed / 2147483647 } // Park–Miller
  let held = 0
  const trials = 4000
  for (let t = 0; t < trials; t++) {
    const [lo, hi] = medianInterval(Array.from({ length: 60 }, () => -Math.log(uniform())))
    if (lo <= Math.LN2 && Math.LN2 <= hi) held++
  }
  // The exact coverage of the 22nd…39th interval is 97.3 %; 4,000 trials put the count within ±1 % of it.
  assert.ok(held / trials >= 0.95 && held / trials <= 0.99, `coverage ${held / trials}`)
})

test.run()
