// Summary statistics and the printed table.

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return NaN
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}

/**
 * A distribution-free confidence interval for the median of `xs` (default 95 %): the order statistics that
 * bracket it with at least that probability, from the binomial distribution of how many values fall below the
 * median. No assumption about the shape of the values, only that they are independent draws (paired windows
 * one after another are nearly so). With 60 windows it runs from the 22nd smallest to the 22nd largest.
 * [NaN, NaN] for fewer than 6 values, too few for 95 %.
 *
 * @example
 * medianInterval(addedPerWindow) // [3.1, 6.8]: the median added µs/request lies in it, 95 % confidence
 */
export function medianInterval(xs, level = 0.95) {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  // P(X ≤ k − 1) for X ~ Binomial(n, ½), summed until it passes the tail allowed on each side.
  const tail = (1 - level) / 2
  let k = 0
  let below = 0
  let term = 0.5 ** n
  while (below + term <= tail) {
    below += term
    term = term * (n - k) / (k + 1)
    k++
  }
  // k values below the interval are allowed: it starts at the (k+1)th smallest. k = 0: not enough values.
  return k === 0 ? [NaN, NaN] : [s[k - 1], s[n - k]]
}
export const min = (xs) => Math.min(...xs)
export const max = (xs) => Math.max(...xs)

export const round = (x, digits = 2) => Number.isFinite(x) ? Number(x.toFixed(digits)) : x

function range(value, lo, hi, { sign = false } = {}) {
  const f = (x) => (sign && x > 0 ? '+' : '') + x.toFixed(1)
  return lo === undefined || lo === hi ? f(value) : `${f(value)} [${f(lo)}…${f(hi)}]`
}

/** Renders rows as an aligned text table. */
export function table(rows) {
  const header = ['server', 'base', 'route', 'req/s', 'cpu µs/req [min…max]', 'added µs/req [min…max]', 'p50 ms', 'p99 ms', 'RSS MB']
  const body = rows.map((r) => [
    r.server, r.base, r.route,
    String(Math.round(r.rps)),
    range(r.cpuUsPerReq, r.cpuUsPerReqRange?.[0], r.cpuUsPerReqRange?.[1]),
    r.server === r.base ? '—' : range(r.addedUsPerReq, r.addedUsPerReqRange?.[0], r.addedUsPerReqRange?.[1], { sign: true }),
    r.p50Ms.toFixed(2), r.p99Ms.toFixed(2), r.rssMb.toFixed(0),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const right = new Set([3, 4, 5, 6, 7, 8])
  const line = (cells) => '| ' + cells.map((c, i) => right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])).join(' | ') + ' |'
  const rule = '|' + widths.map((w, i) => right.has(i) ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2)).join('|') + '|'
  return [line(header), rule, ...body.map(line)].join('\n')
}
