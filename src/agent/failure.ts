/**
 * How the agent classifies whatever a publisher (or decoding) threw. Every failure falls in one class:
 *
 * ```
 * PublishError { permanent: true }   permanent  the backend refused this data      → dead-letter now
 * PublishError { permanent: false }  transient  the backend is down, the data fine  → retry, as long as it takes
 * anything else                      unknown    a bug, or data nobody anticipated   → retry, each attempt counts
 *                                                                                      toward maxDeliveries
 * ```
 *
 * Only a publisher's explicit word makes a failure unbounded: an unknown error that repeats for one entry is
 * the entry's fault until shown otherwise, and must not hold the stream forever.
 */
import { PublishError } from './publisher.js'

/** The class of a failure; see the table above. */
export type FailureKind = 'permanent' | 'transient' | 'unknown'

/**
 * Classifies anything thrown or rejected.
 *
 * @example
 * failureKind(new PublishError('503', { permanent: false })) // 'transient'
 * failureKind(new TypeError('x is undefined'))                // 'unknown'
 */
export function failureKind(error: unknown): FailureKind {
  if (error instanceof PublishError) return error.permanent ? 'permanent' : 'transient'
  return 'unknown'
}

/**
 * A one-line description of anything thrown: never throws itself (a rejection with `null`, a Symbol, an
 * object whose `toString` throws). Other errors keep their class name (`TypeError`), often the whole clue.
 *
 * @example
 * failureMessage(new TypeError('x is undefined')) // 'TypeError: x is undefined'
 */
export function failureMessage(error: unknown): string {
  try {
    if (error instanceof PublishError) return error.message
    if (error instanceof Error) return error.name === 'Error' || error.name === '' ? error.message : `${error.name}: ${error.message}`
    return `non-Error failure: ${String(error)}`
  } catch {
    return `non-Error failure: [${typeof error}]`
  }
}
