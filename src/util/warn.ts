const warned = new Set<string>()

/**
 * Emits a `RouteMeterWarning` the first time `code` is seen in this process, then stays quiet: a bad
 * metric name inside a hot loop must not flood the log.
 *
 * @example
 * warnOnce('RM_BAD_NAME', 'routemeter: dropped a metric with an empty name')
 */
export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return
  warned.add(code)
  process.emitWarning(message, { type: 'RouteMeterWarning', code })
}

/** Forgets which warnings were emitted, so an outage that ends can warn again when the next one starts. */
export function rearmWarning(code: string): void {
  warned.delete(code)
}
