/**
 * The one warning policy of the package (app side and agent alike):
 *
 * - A warning is `process.emitWarning(text, { type: 'RouteMeterWarning', code })`. Codes are
 *   `RM_<AREA>[_<WHAT>]` (`RM_BAD_NAME`, `RM_REDIS`, `RM_STATSD_ENOTFOUND`, …); the README lists them. Texts
 *   start with one `routemeter` prefix: {@link warn} adds `routemeter: ` unless the text already names its
 *   component (`routemeter agent: …`, as the agent's messages do).
 * - One rate limit for every code: the first warning of a code is emitted at once, then at most one a minute;
 *   the next one says how many were held back meanwhile. A bad name in a hot loop or a backend that keeps
 *   failing shows up once a minute, with a count, never as a flood, and is never hidden for good.
 * - Where a component takes an `onError` hook, the hook receives every error unthrottled instead; the default
 *   hook is {@link warningHandler}, which goes through the same rule.
 */

/** Called with every error that happens off the request path (a sink's send, a socket, a DNS lookup, a publisher). */
export type ErrorHandler = (error: Error) => void

/** Warnings of one code are emitted at most this often (ms). */
export const WARNING_INTERVAL_MS = 60_000

// Codes are a fixed set plus a few with an error code in them (RM_STATSD_ENOTFOUND): a cap keeps a
// pathological stream of distinct codes from growing the map without bound.
const MAX_CODES = 256

interface CodeState { last: number, held: number }

/** A warner with its own clock and output: the package uses one, tests make their own. */
export interface Warner {
  warn(code: string, message: string | (() => string)): void
}

/**
 * Makes a warner applying the rate limit with `now()` as the clock and `emit` as the output.
 *
 * @example
 * const warner = createWarner(() => clock, (text, code) => lines.push(`${code} ${text}`))
 */
export function createWarner(now: () => number, emit: (text: string, code: string) => void): Warner {
  const codes = new Map<string, CodeState>()
  return {
    warn(code, message) {
      const at = now()
      const state = codes.get(code)
      if (state !== undefined && at - state.last < WARNING_INTERVAL_MS) {
        state.held++
        return
      }
      let text: string
      try {
        text = typeof message === 'string' ? message : message()
      } catch {
        text = code
      }
      if (state === undefined) {
        if (codes.size >= MAX_CODES) codes.delete(codes.keys().next().value!)
        codes.set(code, { last: at, held: 0 })
      } else {
        if (state.held > 0) text += ` (${state.held} more like this in the last ${Math.round((at - state.last) / 1000)} s)`
        state.last = at
        state.held = 0
      }
      try {
        emit(/^routemeter\b/.test(text) ? text : `routemeter: ${text}`, code)
      } catch {
        // A warning must never become the app's problem (a throwing 'warning' listener, a closed stderr).
      }
    },
  }
}

const processWarner = createWarner(Date.now, (text, code) => process.emitWarning(text, { type: 'RouteMeterWarning', code }))

/**
 * Emits a `RouteMeterWarning` under the package's one rate limit (the first of a code at once, then at most
 * one a minute with a count of those held back). Build expensive texts lazily: a function is only called
 * when the warning is emitted.
 *
 * @example
 * warn('RM_BAD_NAME', () => `dropped a metric named ${describe(name)}`)
 */
export function warn(code: string, message: string | (() => string)): void {
  processWarner.warn(code, message)
}

/** @deprecated the same as {@link warn}: every warning now follows the one rate limit. */
export const warnOnce = warn

/**
 * The default `onError` of a component: each error becomes a warning of `code` (plus the error's own code,
 * when it has one: `RM_STATSD_ENOTFOUND`), its text `context` + the error's message, under the same rate limit.
 *
 * @example
 * const onError = options.onError ?? warningHandler('RM_STATSD', `StatsD ${host}:${port}: `)
 */
export function warningHandler(code: string, context = ''): (error: Error) => void {
  return (error) => {
    const errno = (error as NodeJS.ErrnoException).code
    warn(typeof errno === 'string' && /^[A-Z0-9_]{1,32}$/.test(errno) ? `${code}_${errno}` : code, `${context}${error.message}`)
  }
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
