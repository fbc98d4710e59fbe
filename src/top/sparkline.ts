/**
 * A row's recent request rate as eight-level bars. Each row is scaled to its own peak: rates across routes
 * differ by orders of magnitude (a health check at 0.2 req/s beside a hot route at 5,000), so one scale per
 * screen would flatten every row but the top one to `▁`. The req/s column already gives the size; the
 * sparkline gives the shape (a spike, a drop to nothing). A second with no request is a blank, not `▁`, so
 * "idle" and "a little" differ.
 */

const BARS = '▁▂▃▄▅▆▇█'

/**
 * The last `width` values of `values` (oldest first) as bars, right-aligned: the newest second is always in
 * the last column, and a history shorter than `width` is padded with blanks on the left.
 *
 * @example
 * sparkline([0, 1, 2, 4, 8], 5) // ' ▁▂▄█'
 * sparkline([5, 5], 4)          // '  ██'
 */
export function sparkline(values: readonly number[], width: number): string {
  if (width <= 0) return ''
  const from = Math.max(0, values.length - width)
  let peak = 0
  for (let i = from; i < values.length; i++) if (values[i]! > peak) peak = values[i]!
  let out = ' '.repeat(width - (values.length - from))
  for (let i = from; i < values.length; i++) {
    const value = values[i]!
    // ceil: any traffic at all shows at least the lowest bar; the peak is always the full one.
    out += value > 0 && peak > 0 ? BARS[Math.min(7, Math.ceil((value / peak) * 8) - 1)] : ' '
  }
  return out
}
