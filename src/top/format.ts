/**
 * Numbers as the live view prints them: short, fixed widths a column can hold, and "unknown" (`–`) kept
 * apart from zero. Each keeps its column within the width `table.ts` gives it.
 */

/** Shown where a figure is unknown (no timing, no CpuTime, a lag Redis did not report). */
export const UNKNOWN = '–'

/**
 * Requests per second: two decimals below 1 (a health check at 0.02 req/s is not 0), one below 100, then whole
 * numbers with separators, then thousands (`k`). At most 6 characters up to 9,999,999 req/s.
 *
 * @example
 * formatRate(0.0167) // '0.02'
 * formatRate(1234.4) // '1,234'
 * formatRate(250_000) // '250k'
 */
export function formatRate(perSecond: number): string {
  if (perSecond === 0) return '0'
  if (perSecond < 1) return perSecond.toFixed(2)
  if (perSecond < 100) return perSecond.toFixed(1)
  if (perSecond < 100_000) return withSeparators(Math.round(perSecond))
  return `${withSeparators(Math.round(perSecond / 1000))}k`
}

/**
 * Milliseconds: two decimals below 10, one below 100, whole up to 9,999, then seconds (`12.3s`). At most 6
 * characters below 100,000 s.
 *
 * @example
 * formatMs(0.347) // '0.35'
 * formatMs(12_345) // '12.3s'
 * formatMs(undefined) // '–'
 */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return UNKNOWN
  if (ms < 10) return ms.toFixed(2)
  if (ms < 100) return ms.toFixed(1)
  if (ms < 9999.5) return String(Math.round(ms))
  return ms < 99_950 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`
}

/**
 * A percentage (0–100) with one decimal; `0` when exactly none, `<0.1` when some but fewer than 0.05 %.
 *
 * @example
 * formatPct(2.345) // '2.3'
 * formatPct(0.01) // '<0.1'
 */
export function formatPct(pct: number): string {
  if (pct === 0) return '0'
  if (pct < 0.05) return '<0.1'
  return pct.toFixed(1)
}

/**
 * A count with thousands separators, or `–` when unknown.
 *
 * @example
 * formatCount(12345) // '12,345'
 */
export function formatCount(n: number | undefined): string {
  return n === undefined ? UNKNOWN : withSeparators(n)
}

/**
 * A window length as `--window` takes it: whole minutes as `1m`, else seconds.
 *
 * @example
 * formatWindow(60_000) // '1m'
 * formatWindow(10_000) // '10s'
 */
export function formatWindow(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`
}

// en-US whatever the machine's locale: the same columns everywhere (and in the tests).
const WHOLE = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })

function withSeparators(n: number): string {
  return WHOLE.format(n)
}
