/**
 * Seeded randomness for generated test cases, so every run draws the same values and a failure can be
 * replayed: mulberry32, a 32-bit generator small enough to read, and what the tests build on it.
 */

/**
 * mulberry32: the next 32-bit unsigned integer on each call, the same sequence for the same seed.
 *
 * @example
 * const next = mulberry32(7); next() // 0 … 2^32 − 1
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

/**
 * Uniform numbers in [0, 1) from `mulberry32(seed)`.
 *
 * @example
 * const rng = uniform(3); rng() // 0.8…
 */
export function uniform(seed: number): () => number {
  const next = mulberry32(seed)
  return () => next() / 4294967296
}

/**
 * `n` lognormal values e^(mu + sigma·Z) (Box–Muller on `mulberry32(seed)`), for latencies with known exact quantiles.
 *
 * @example
 * lognormal(1000, 1, 1.2) // median about e ≈ 2.7, a long right tail
 */
export function lognormal(n: number, mu: number, sigma: number, seed = 1): number[] {
  const next = mulberry32(seed)
  // In (0, 1], never 0: Box–Muller takes its logarithm.
  const rand = (): number => (next() + 1) / 4294967297
  return Array.from({ length: n }, () => Math.exp(mu + sigma * Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand())))
}
