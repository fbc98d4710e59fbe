/**
 * A queue of datagrams leaving through a token bucket counted in lines, shared by the app's `statsdSink` and
 * the agent's `statsdPublisher`:
 *
 * ```
 * push(packet, lines) ─► bucket holds `lines`? ─ yes ─► send(packet, lines)
 *                                  └─ no ─► queue ─► retried 1 ms later (unref'd timer) ─► send …
 * ```
 *
 * Why lines, not bytes or datagrams: a StatsD server's work grows with the lines it parses, and what it
 * loses is whatever its UDP receive buffer cannot hold while it parses. Into the npm `statsd` daemon on a
 * 2-core machine, 40, 60 and 100 lines/ms lost none of 9,000 timings and 200 lost 10–70 %; a receiver that
 * only counts lines, on loopback, lost 41 % of 10,000 lines sent in one burst (92 of 149 datagrams fit its
 * 208 KB buffer). See the README, "What goes to StatsD".
 */

/** Options of {@link pacedQueue}. */
export interface PacedQueueOptions {
  /** Lines per millisecond at most, after a burst; above 0 (`Infinity` never waits). */
  linesPerMs: number
  /** Lines the bucket holds: what leaves at once before pacing starts. At least 1. */
  burstLines: number
  /** Hands one packet on (a socket, hot-shots). Called from `push` or from the pacing timer, so it must not throw. */
  send(packet: string, lines: number): void
}

/** What {@link pacedQueue} returns. */
export interface PacedQueue {
  /**
   * Sends `packet` now when nothing waits and the bucket holds its `lines` (or is full: a packet bigger than
   * the burst goes alone), else queues it. Returns false, queuing nothing, when it would wait behind more
   * than `maxWaiting` lines in all (its own included); the caller counts that drop.
   */
  push(packet: string, lines: number, maxWaiting?: number): boolean
  /** Packets waiting. */
  packets(): number
  /** Lines waiting. */
  lines(): number
  /**
   * Lines accepted by `push` so far, and lines sent or forgotten (`clear`) so far: a flush waits until the second
   * reaches what the first was when it began, not for an empty queue, which steady traffic above the pace never
   * leaves.
   */
  pushed(): number
  done(): number
  /**
   * Resolves once `ready()` holds: at once, or after the pacing step or {@link PacedQueue.notify} that made it
   * hold. With `keepAlive`, the pacing timer holds the process open meanwhile (someone awaits the queue's end:
   * `flush()`, `close()`); otherwise it never does.
   */
  until(ready: () => boolean, keepAlive?: boolean): Promise<void>
  /** Checks the waiters again, after something their conditions read changed (a send's callback). */
  notify(): void
  /** Forgets every waiting packet and stops the timer; returns the lines forgotten. Waiters are checked again. */
  clear(): number
  /** Resolves every waiter, whatever its condition: nobody waits for ever on a closed transport. */
  release(): void
}

interface Waiter { ready: () => boolean, keepAlive: boolean, resolve: () => void }

/** Sent packets are cut off the front of the queue once this many have piled up there (amortised O(1)). */
const COMPACT_AT = 1024

/**
 * A token bucket refilled from `performance.now()` in front of a FIFO of packets; the first packet the
 * bucket cannot take is retried 1 ms later, never before, so a dry bucket costs one timer, not a spin.
 *
 * @example
 * const queue = pacedQueue({ linesPerMs: 40, burstLines: 1000, send: (packet) => socket.send(packet) })
 * if (!queue.push(packet, 12, 100_000)) countDrop('sink', 12)
 * await queue.until(() => queue.packets() === 0)
 */
export function pacedQueue(options: PacedQueueOptions): PacedQueue {
  const { linesPerMs, burstLines, send } = options
  const queue: string[] = []
  const costs: number[] = []
  let head = 0
  let waitingLines = 0
  let pushedLines = 0
  let doneLines = 0
  let tokens = burstLines
  let last = performance.now()
  let timer: NodeJS.Timeout | undefined
  const waiters: Waiter[] = []

  const refill = (): void => {
    const now = performance.now()
    // Two refills within the same microsecond give 0 × Infinity = NaN, which would stop the bucket for good.
    if (now > last) tokens = Math.min(burstLines, tokens + (now - last) * linesPerMs)
    last = now
  }
  const takes = (lines: number): boolean => tokens >= lines || tokens === burstLines
  const keptAlive = (): boolean => waiters.some((w) => w.keepAlive)
  const schedule = (): void => {
    timer = setTimeout(pump, 1)
    if (!keptAlive()) timer.unref()
  }
  const notify = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.ready()) waiters.splice(i, 1)[0]!.resolve()
    }
    if (timer !== undefined && !keptAlive()) timer.unref()
  }
  function pump(): void {
    timer = undefined
    refill()
    while (head < queue.length && takes(costs[head]!)) {
      const lines = costs[head]!
      const packet = queue[head++]!
      tokens -= lines
      waitingLines -= lines
      doneLines += lines
      send(packet, lines)
    }
    if (head === queue.length) {
      queue.length = 0
      costs.length = 0
      head = 0
    } else {
      // Under steady overload the queue never empties: without this the sent packets would stay referenced.
      if (head >= COMPACT_AT && head * 2 >= queue.length) {
        queue.splice(0, head)
        costs.splice(0, head)
        head = 0
      }
      schedule()
    }
    notify()
  }

  return {
    push(packet, lines, maxWaiting = Infinity) {
      if (head === queue.length) {
        refill()
        if (takes(lines)) {
          tokens -= lines
          pushedLines += lines
          doneLines += lines
          send(packet, lines)
          return true
        }
      }
      if (waitingLines + lines > maxWaiting) return false
      pushedLines += lines
      queue.push(packet)
      costs.push(lines)
      waitingLines += lines
      if (timer === undefined) schedule()
      return true
    },
    packets: () => queue.length - head,
    lines: () => waitingLines,
    pushed: () => pushedLines,
    done: () => doneLines,
    until(ready, keepAlive = false) {
      if (ready()) return Promise.resolve()
      return new Promise<void>((resolve) => {
        waiters.push({ ready, keepAlive, resolve })
        if (keepAlive) timer?.ref()
      })
    },
    notify,
    clear() {
      const forgotten = waitingLines
      doneLines += forgotten
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      queue.length = 0
      costs.length = 0
      head = 0
      waitingLines = 0
      notify()
      return forgotten
    },
    release() {
      for (const waiter of waiters.splice(0)) waiter.resolve()
    },
  }
}
