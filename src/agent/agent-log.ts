/**
 * What the agent tells `onError`: one warning per kind of trouble until it clears, one line when a failing
 * publisher recovers, every message prefixed `routemeter agent: ` (here, and nowhere else) and redacted.
 */
import type { ErrorHandler } from '../util/warn.js'
import type { Redact } from '../util/redact.js'

/** The agent's reporting, built once per agent. */
export interface AgentLog {
  /** Reports `message` unless `kind` was reported since it was last cleared: never one per entry or per retry. */
  warnOnce(kind: string, message: string): void
  clear(kind: string): void
  /** Reports `message` unconditionally. */
  report(message: string): void
  /** A publisher attempt failed and will be retried: warns once per streak. */
  publisherFailed(name: string, message: string): void
  /** A publisher accepted entries: ends its failure streak, reporting it once when there was one. */
  publisherSucceeded(name: string): void
}

/**
 * Builds the agent's reporting on top of `onError`; a throwing hook is ignored.
 *
 * @example
 * const log = agentLog(onError, redact)
 * log.warnOnce('redis', `Redis at ${safe} unavailable (${error.message}); retrying`)
 */
export function agentLog(onError: ErrorHandler, redact: Redact): AgentLog {
  const warned = new Set<string>()
  const failures = new Map<string, number>()
  const report = (message: string): void => {
    try { onError(new Error(`routemeter agent: ${redact(message)}`)) } catch { /* hook must not throw into us */ }
  }
  const warnOnce = (kind: string, message: string): void => {
    if (warned.has(kind)) return
    warned.add(kind)
    report(message)
  }
  return {
    warnOnce,
    report,
    clear: (kind) => { warned.delete(kind) },
    publisherFailed(name, message) {
      failures.set(name, (failures.get(name) ?? 0) + 1)
      warnOnce(`publisher:${name}`, `${name} failed (${message}); retrying with backoff`)
    },
    publisherSucceeded(name) {
      const failed = failures.get(name)
      if (failed === undefined) return
      failures.delete(name)
      warned.delete(`publisher:${name}`)
      report(`${name}: recovered after ${failed} failed attempt${failed === 1 ? '' : 's'}`)
    },
  }
}
