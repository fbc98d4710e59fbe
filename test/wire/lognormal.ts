/** A seeded lognormal sample (mulberry32 + Box–Muller), so a failure can be replayed. */
export function lognormal(n: number, mu: number, sigma: number, seed = 1): number[] {
  let a = seed >>> 0
  const rand = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297
  }
  return Array.from({ length: n }, () => Math.exp(mu + sigma * Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand())))
}
