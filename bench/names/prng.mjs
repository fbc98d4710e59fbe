// Seeded randomness for the naming benchmark: no run touches Math.random, so a seed names one exact request stream.

/** FNV-1a of a string, then mulberry32: a small PRNG that any string seeds, so every stream is reproducible alone. */
export function prng(seed) {
  let h = 2166136261
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619)
  let s = h >>> 0
  const next = () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
    chars: (alphabet, n) => { let out = ''; for (let i = 0; i < n; i++) out += alphabet[Math.floor(next() * alphabet.length)]; return out },
    /** A rank in [1, n], P(k) ∝ k^-s (inverse CDF of the continuous law: O(1), close enough for popularity). */
    zipf(n, s) {
      const u = next()
      const x = Math.abs(s - 1) < 1e-9 ? Math.pow(n + 1, u) : Math.pow(1 + u * (Math.pow(n + 1, 1 - s) - 1), 1 / (1 - s))
      return Math.min(n, Math.max(1, Math.floor(x)))
    },
  }
}
