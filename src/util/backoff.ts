/**
 * Exponential backoff with jitter, and a sleep that an AbortSignal cuts short: the one retry policy of the
 * package (the Redis sink's reconnects, the agent's read loop and its publisher retries).
 */

/**
 * Delay before retry number `attempt` (0-based): `min × 2^attempt`, capped at `max`, ±20 % jitter so a fleet
 * of agents does not retry in lockstep.
 *
 * @example
 * backoffDelay(0, 250, 30_000) // ≈ 250
 * backoffDelay(10, 250, 30_000) // ≈ 30,000
 */
export function backoffDelay(attempt: number, min: number, max: number): number {
  return Math.min(max, min * 2 ** Math.min(attempt, 30)) * (0.8 + Math.random() * 0.4)
}

/**
 * Resolves after `ms`, or at once when `signal` aborts (never rejects). The timer is unref'd.
 *
 * @example
 * await sleep(backoffDelay(attempt++, 250, 30_000), stopSignal)
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) { resolve(); return }
    const done = (): void => { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve() }
    const timer = setTimeout(done, ms)
    timer.unref()
    signal?.addEventListener('abort', done, { once: true })
  })
}
