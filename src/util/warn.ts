const warned = new Set<string>()

/**
 * Emits a `RouteMeterWarning` the first time `code` is seen in this process, then stays quiet: a bad
 * metric name inside a hot loop must not flood the log.
 *
 * @example
 * warnOnce('RM_BAD_NAME', 'routemeter: dropped a metric with an empty name')
 */
export function warnOnce(code: string, message: string | (() => string)): void {
  if (warned.has(code)) return
  warned.add(code)
  let text: string
  try {
    text = typeof message === 'string' ? message : message()
  } catch {
    text = `routemeter: ${code}`
  }
  process.emitWarning(text, { type: 'RouteMeterWarning', code })
}

/**
 * A short, safe rendering of any value for a warning: never throws (objects without a prototype or with a
 * throwing `toString` included).
 *
 * @example
 * describe(Object.create(null)) // '[object]'
 */
export function describe(value: unknown): string {
  try {
    if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
    return String(value)
  } catch {
    return `[${typeof value}]`
  }
}

/** Anything thrown or rejected, as an Error (a sink may reject with `undefined` or a string). */
export function toError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(`routemeter: non-Error failure: ${describe(thrown)}`)
}

/**
 * Hands an error to a user hook without letting the hook's own failure escape: an error handler that throws
 * inside a timer would otherwise crash the app.
 *
 * @example
 * report(onError, error)
 */
export function report(handler: (error: Error) => void, thrown: unknown): void {
  try {
    handler(toError(thrown))
  } catch {
    // The hook failed; there is nobody left to tell without risking the app.
  }
}
