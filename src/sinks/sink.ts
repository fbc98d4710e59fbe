import type { MetricRecord } from '../wire/record.js'

/**
 * Where batches of finished records go. The Batcher calls `send` off the request path, never two at once
 * for one sink; a rejected promise or a throw from `send` is caught and handed to the `onError` hook, never
 * to the app.
 *
 * @example
 * const logSink: Sink = {
 *   send(batch) { for (const r of batch) console.log(r.route, r.timers.RequestTime) },
 *   async flush() {},
 *   async close() {},
 * }
 * http.createServer(withMetrics(app, { sink: logSink }))
 */
export interface Sink {
  /**
   * Takes one batch of finished records. The array is the sink's to keep. A returned promise is awaited
   * (the batcher buffers meanwhile); one still unsettled when `metrics.close()` reaches its bound is given
   * up on, and its records are counted as `close` drops, unless the sink {@link Sink.acceptsOnSend accepts on send}.
   */
  send(batch: MetricRecord[]): void | Promise<void>
  /**
   * True when a batch is the sink's once `send` returns, and a promise `send` returns only asks the batcher to
   * wait (back-pressure): `statsdSink` queues a batch's lines for pacing before it returns. When
   * `metrics.close()` gives up on such a send, the batcher does not count its records: they are in the sink,
   * which counts what it then fails to deliver (counting them there too counted the same data twice). Leave it
   * out when a pending promise means the batch is not yet delivered: an unsettled send is then counted whole.
   */
  readonly acceptsOnSend?: boolean
  /**
   * Pushes out whatever the sink itself still buffers, nothing more: records still in a wrapper's batcher are
   * the pipeline's to hand over first (`metrics.flush()` does both, in that order).
   */
  flush(): Promise<void>
  /**
   * Flushes within a bounded time, counts what it gives up on as `close` drops, then releases sockets and
   * timers. Idempotent. `metrics.close()` calls it once per sink, after every batcher feeding it has flushed,
   * with `timeoutMs`: what is left of its own bound, which it waits out, and 50 ms more. A sink that gives up by
   * then has counted its losses before `metrics.close()` resolves (a SIGTERM handler exits right after). Left
   * out, the sink's own bound applies.
   */
  close(timeoutMs?: number): Promise<void>
}

export type { ErrorHandler } from '../util/warn.js'
