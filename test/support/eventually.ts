/**
 * Waiting for a condition instead of sleeping. A fixed sleep is either longer than needed on every run or,
 * on a loaded machine, too short on some: these poll until the thing the test waits for has happened, and
 * fail with what was awaited when a deadline passes. A sleep stays only where the time itself is the
 * subject: a slow handler, a request that must stay open, a quiet period proving that nothing more arrives.
 */
import { isDeepStrictEqual } from 'node:util'

/**
 * A pause of `ms` milliseconds. Only for time that is the subject of a test; to wait for something, use `until`.
 *
 * @example
 * await sleep(30) // the request stays open 30 ms: RequestTime must cover it
 */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Resolves once `condition()` returns true, checking every `everyMs`; rejects with
 * `timed out after <timeoutMs> ms waiting for <what>` when the deadline passes first. A condition that throws
 * rejects at once: that is a bug in the test, not "not yet".
 *
 * @example
 * await until(() => handled === 2, 'both requests to reach the handler')
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

/**
 * Reads `read()` until it deep-equals `expected` or `timeoutMs` passes, and returns the last value read, so the
 * assertion that follows shows what there was when it never came.
 *
 * @example
 * assert.is(await eventually(() => h.delivered('contract.a'), 2), 2)
 */
export async function eventually<T>(read: () => T | Promise<T>, expected: T, timeoutMs = 5000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let got = await read()
  while (!isDeepStrictEqual(got, expected) && Date.now() <= deadline) {
    await sleep(everyMs)
    got = await read()
  }
  return got
}
