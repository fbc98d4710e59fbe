import type { Collector } from '../collect/collector.js'
import type { MetricRecord } from '../wire/record.js'
import type { Sink } from '../sinks/sink.js'
import { countDrop as countProcessDrop } from '../util/drops.js'
import { report, warn, type ErrorHandler } from '../util/warn.js'
import { syncWallClock } from '../util/wall-clock.js'

/**
 *   response ends ─► push(c) ─► buffer ─┬─ size ≥ batchSize ─────────────────────► setImmediate ×2 ─┐
 *                     (O(1))            └─ flushInterval after the last flush ─► setImmediate ×2 ─┴─► flush: build ─► sink.send
 *
 * The only thing the request path does is `push`. Records are built and sent in a later macrotask, never
 * two sends at once for one batcher; while a send is in flight the buffer keeps filling, bounded by
 * `maxBuffer`, past which the oldest are dropped and counted. When `close()` reaches its bound, whatever it
 * gives up on (the buffer, and the batch of a send that never settled, unless the sink took it on send) is
 * counted as `close` drops.
 *
 * A batcher sends; it does not close its sink, which other batchers may share: the registry closes each sink
 * once, after every batcher feeding it has flushed (see `registry.ts`).
 */
export interface Batcher {
  push(c: Collector): void
  /** Sends everything buffered now (waiting for an in-flight send first). */
  flush(): Promise<void>
  /**
   * Flushes and stops the timer, bounded by `timeoutMs` (default 5000); later pushes are counted as `close`
   * drops. At the bound, records still buffered or in a send that has not settled are counted as `close`
   * drops too. The sink stays open.
   */
  close(timeoutMs?: number): Promise<void>
  readonly sink: Sink
  /** Where this batcher reports what goes wrong off the request path (its sink's failures included). */
  readonly onError: ErrorHandler
  /** What this batcher dropped, by reason (the process-wide totals are in `metrics.stats().dropped`). */
  dropped(): Readonly<Record<'buffer' | 'sink' | 'close', number>>
}

export interface BatcherOptions {
  sink: Sink
  toRecord: (c: Collector) => MetricRecord
  flushInterval: number
  batchSize: number
  maxBuffer: number
  onError: ErrorHandler
  /**
   * Records that belong to no request (what `metrics` recorded outside one, and the drop counters), added to
   * a flush while `due()`: the wiring makes one batcher per process their carrier. None when left out.
   */
  processRecords?: { due(): boolean, take(): MetricRecord | undefined }
}

const NO_PROCESS_RECORDS = { due: () => false, take: () => undefined }

/**
 * @example
 * const batcher = createBatcher({ sink, toRecord, flushInterval: 1000, batchSize: 500, maxBuffer: 10_000, onError })
 */
export function createBatcher(options: BatcherOptions): Batcher {
  const { sink, toRecord, batchSize, maxBuffer, onError } = options
  const processRecords = options.processRecords ?? NO_PROCESS_RECORDS
  const drops = { buffer: 0, sink: 0, close: 0 }
  const countDrop = (reason: 'buffer' | 'sink' | 'close', n = 1): void => {
    drops[reason] += n
    countProcessDrop(reason, n)
  }
  let buffer: Collector[] = []
  let sending: Promise<void> | null = null
  let scheduled = false
  let closed = false
  /**
   * Records in the send the sink has not settled yet: what close() abandons when it gives up on that send,
   * unless the sink took them when `send` returned (`acceptsOnSend`): it counts its own drops.
   */
  let inFlight = 0
  /** Set when close() reached its bound: nothing is sent any more, and a late failure is not counted twice. */
  let abandoned = false

  // A tick while a send is in flight does nothing: queuing a flush per tick behind a sink that never answers
  // would grow without bound.
  // A flush of its own builds its records two loop turns after it is due, in the second check phase: a garbage-
  // collection pause is reported to the attributed clock in the check phase after it (Node creates the entry
  // in a native immediate, which runs before that phase's JavaScript immediates; its observer's callback is
  // one of them), and a record built before that keeps the pause in its CpuTime (a 20 ms burn and a 125 ms
  // collection in a request's last callback reported 67 ms when the interval fell due during the pause).
  // An explicit `flush()` builds at once. One more immediate per batch.
  const tick = (): void => {
    if (sending === null) flush().catch((error: unknown) => report(onError, error))
  }
  const tickLater = (): void => { setImmediate(tick) }
  const timer = setInterval(() => { setImmediate(tickLater) }, options.flushInterval)
  timer.unref()
  const scheduledFlushLater = (): void => { setImmediate(scheduledFlush) }

  function scheduledFlush(): void {
    scheduled = false
    flush().catch((error: unknown) => report(onError, error))
  }

  function push(c: Collector): void {
    if (closed) {
      countDrop('close')
      return
    }
    if (buffer.push(c) < batchSize) return
    if (buffer.length > maxBuffer) {
      // Drop a tenth at once, not one per push: `splice` is O(n), and a stuck sink would otherwise make every
      // request pay it.
      const dropped = buffer.length - maxBuffer + (maxBuffer / 10 | 0)
      buffer.splice(0, dropped)
      countDrop('buffer', dropped)
      warn(
        'RM_BUFFER_FULL',
        `the sink is slower than the traffic; dropped the oldest ${dropped} records (maxBuffer ${maxBuffer}). Drops are counted in stats()`,
      )
    }
    if (!scheduled && sending === null) {
      scheduled = true
      setImmediate(scheduledFlushLater)
    }
  }

  function build(items: Collector[]): MetricRecord[] {
    syncWallClock() // the records' timestamps follow the system clock if it was stepped (util/wall-clock.ts)
    const batch: MetricRecord[] = []
    for (const c of items) {
      try {
        batch.push(toRecord(c))
      } catch (error) {
        countDrop('sink')
        report(onError, error)
      }
    }
    if (processRecords.due()) {
      const processRecord = processRecords.take()
      if (processRecord !== undefined) batch.push(processRecord)
    }
    return batch
  }

  async function sendNow(): Promise<void> {
    if (abandoned) return
    // The interval counts from the last flush, whatever started it. A timer that ignored the size-triggered
    // flushes also flushed the few records that came after each full batch: in a paired run at 700–800 requests a
    // second (Node 24), the Redis sink sent 173 entries for 64,629 records (374 an entry), against 132 for 64,461
    // (488) now. Each flush costs a sink its fixed price: the Redis sink's XADD is ≈ 0.5 ms of the app's CPU on a
    // 2-core VM (`bench/redis-roundtrip.mjs`). A cleared timer stays cleared.
    timer.refresh()
    const items = buffer
    buffer = []
    const batch = build(items)
    if (batch.length === 0) return
    inFlight = batch.length
    try {
      await sink.send(batch)
    } catch (error) {
      if (!abandoned) countDrop('sink', batch.length)
      report(onError, error)
    } finally {
      inFlight = 0
    }
  }

  async function flush(): Promise<void> {
    while (sending !== null) await sending
    if (buffer.length === 0 && !processRecords.due()) return
    sending = sendNow().finally(() => {
      sending = null
      if (buffer.length >= batchSize && !closed) flush().catch((error: unknown) => report(onError, error))
    })
    return sending
  }

  let closing: Promise<void> | undefined
  function close(timeoutMs = 5000): Promise<void> {
    closing ??= closeOnce(timeoutMs)
    return closing
  }

  async function closeOnce(timeoutMs: number): Promise<void> {
    clearInterval(timer)
    let timeout: NodeJS.Timeout | undefined
    // Not unref'd: whoever awaits close() (a SIGTERM handler) wants it to finish, and it is bounded.
    const bounded = new Promise<void>((resolve) => {
      timeout = setTimeout(resolve, timeoutMs)
    })
    const work = (async () => {
      await flush()
      closed = true // after the last flush: later pushes are counted drops, not sends to a closed sink
    })().catch((error: unknown) => report(onError, error))
    const finished = await Promise.race([work.then(() => true), bounded.then(() => false)])
    clearTimeout(timeout)
    if (!finished) abandon(timeoutMs)
  }

  // The work above may still finish later (a send that settles after all): it then finds nothing to send.
  function abandon(timeoutMs: number): void {
    closed = true
    abandoned = true
    const dropped = buffer.length + (sink.acceptsOnSend === true ? 0 : inFlight)
    buffer = []
    inFlight = 0
    if (dropped === 0) return
    countDrop('close', dropped)
    warn('RM_CLOSE_ABANDONED', () =>
      `close() gave up after ${timeoutMs} ms on a sink that did not finish; dropped ${dropped} records (counted: close)`)
  }

  return { push, flush, close, sink, onError, dropped: () => ({ ...drops }) }
}
