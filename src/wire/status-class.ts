/** A request's status class, as every backend tags it (`status_class`). */
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'aborted' | 'other'

/**
 * The status class of a request: `aborted` when the client hung up before the response finished, else
 * `1xx`…`5xx` from the status code, `other` for a code outside 100–599. One rule for StatsD, InfluxDB and
 * Prometheus, so the same request carries the same tag everywhere.
 *
 * @example
 * statusClass(404, false) // '4xx'
 * statusClass(200, true)  // 'aborted'
 */
export function statusClass(status: number, aborted: boolean): StatusClass {
  if (aborted) return 'aborted'
  const c = Math.floor(status / 100)
  return c >= 1 && c <= 5 ? (`${c}xx` as StatusClass) : 'other'
}
