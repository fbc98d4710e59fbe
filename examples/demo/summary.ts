import type { MetricRecord } from 'routemeter'

/** One line of the demo's table. */
export interface RouteSummary {
  route: string
  count: number
  p50: number
  p99: number
  cpuMean: number
  failureRate: number
  clientErrorRate: number
  appMetrics: string[]
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}

/**
 * Per route: request count, RequestTime p50/p99, mean CpuTime, Failure and ClientError rates (the mean of
 * the 0/1 counters), and the names of the app's own metrics seen on it.
 *
 * @example
 * summarize(sink.records()).map((s) => s.route)
 */
export function summarize(records: readonly MetricRecord[]): RouteSummary[] {
  const byRoute = new Map<string, MetricRecord[]>()
  for (const r of records) {
    if (r.kind !== 'request') continue
    const list = byRoute.get(r.route) ?? []
    list.push(r)
    byRoute.set(r.route, list)
  }
  const standard = new Set(['RequestTime', 'CpuTime', 'Failure', 'ClientError', 'Aborted'])
  return [...byRoute]
    .map(([route, list]) => {
      const times = list.map((r) => r.timers.RequestTime!).sort((a, b) => a - b)
      const mean = (f: (r: MetricRecord) => number) => list.reduce((sum, r) => sum + f(r), 0) / list.length
      const own = new Set<string>()
      for (const r of list) {
        for (const name of [...Object.keys(r.counters), ...Object.keys(r.timers)]) if (!standard.has(name)) own.add(name)
      }
      return {
        route,
        count: list.length,
        p50: quantile(times, 0.5),
        p99: quantile(times, 0.99),
        cpuMean: mean((r) => r.timers.CpuTime ?? 0),
        failureRate: mean((r) => r.counters.Failure!),
        clientErrorRate: mean((r) => r.counters.ClientError!),
        appMetrics: [...own].sort(),
      }
    })
    .sort((a, b) => b.count - a.count)
}

/** The summary as an aligned text table. */
export function formatSummary(rows: readonly RouteSummary[]): string {
  const header = ['route', 'count', 'RequestTime p50', 'p99 (ms)', 'CpuTime mean (ms)', 'Failure', 'ClientError', 'app metrics']
  const lines = rows.map((s) => [
    s.route,
    String(s.count),
    s.p50.toFixed(2),
    s.p99.toFixed(2),
    s.cpuMean.toFixed(3),
    `${(s.failureRate * 100).toFixed(1)}%`,
    `${(s.clientErrorRate * 100).toFixed(1)}%`,
    s.appMetrics.join(', '),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  // Route and app metrics are text, left-aligned; the figures between them are right-aligned.
  const cell = (c: string, i: number, last: number) => (i === 0 || i === last ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))
  const fmt = (cells: string[]) => cells.map((c, i) => cell(c, i, cells.length - 1)).join('  ').trimEnd()
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n')
}
