/** What a wrapper recorded, read without guessing how long the record takes to arrive. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { MemorySink, MetricRecord } from '../../src/index.js'
import { flushSink } from '../../src/pipeline/registry.js'
import * as assert from 'uvu/assert'
import { until } from './eventually.js'
import { fetchText, httpServer, listen } from './http.js'

/**
 * Flushes the wrappers' batchers into `sink` until it holds at least `n` records, then returns all it holds
 * (more than `n` when more arrived: the caller's exact assertion shows them). A record is written when its
 * response finishes or its connection closes, which the client may see before the server does.
 *
 * @example
 * const [r] = await recorded(sink, 1)
 */
export async function recorded(sink: MemorySink, n: number, timeoutMs = 5000): Promise<MetricRecord[]> {
  await until(async () => {
    await flushSink(sink)
    return sink.records().length >= n
  }, `${n} record${n === 1 ? '' : 's'}`, timeoutMs).catch((error: Error) => {
    throw new Error(`${error.message}; the sink holds ${sink.records().length}`)
  })
  return sink.records()
}

/**
 * Asserts what a record's attributed CpuTime can be known to be: more than nothing (the listener ran) and at
 * most the request's wall time, RequestTime. The 0.05 ms allowance is for the two clocks: a stretch longer than
 * 1 ms is charged by the thread's CPU clock, read a few µs apart from `performance.now()`. Over 400 requests
 * CpuTime stayed 0.003 ms or more below RequestTime.
 *
 * @example
 * assertCpuTime(record)
 */
export function assertCpuTime(r: MetricRecord): void {
  const { CpuTime: cpu, RequestTime: wall } = r.timers
  assert.ok(cpu !== undefined && wall !== undefined && Number.isFinite(cpu) && cpu > 0 && cpu <= wall + 0.05,
    `CpuTime ${cpu} ms for a request of ${wall} ms (${r.route})`)
}

/**
 * Serves `paths` one after the other through `listener` (already measured: `withMetrics(…)` or an app with
 * the middleware, sending to `sink`) on a fresh server, and returns the records `sink` got: one per path.
 *
 * @example
 * const records = await recordsFor(withMetrics(app, { sink }), sink, ['/users/1', '/users/2'])
 */
export async function recordsFor(
  listener: (req: IncomingMessage, res: ServerResponse) => unknown, sink: MemorySink, paths: readonly string[],
): Promise<MetricRecord[]> {
  const { url, close } = await listen(httpServer(listener))
  try {
    for (const path of paths) await fetchText(url + path)
    return await recorded(sink, paths.length)
  } finally { await close() }
}
