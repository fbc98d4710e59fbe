import http from 'node:http'
import { test as uvuTest } from 'uvu'
import * as assert from 'uvu/assert'
import { metrics, withMetrics, type MetricRecord, type Sink } from '../../src/index.js'
import { eventually } from '../support/eventually.js'
import { fetchText, listen } from '../support/http.js'

/** What a sink under contract exposes to the suite. */
export interface SinkUnderTest {
  sink: Sink
  /** How many request records (by route) reached the sink's destination so far. */
  delivered(route: string): Promise<number>
  /** Releases what the harness started (sockets, servers). */
  dispose?(): Promise<void> | void
}

/**
 * A request record of route `contract`, with what `over` sets.
 *
 * @example
 * await sink.send([record({ route: 'contract.a', status: 503 })])
 */
export function record(over: Partial<MetricRecord> = {}): MetricRecord {
  return {
    kind: 'request', prefix: '', route: 'contract', method: 'GET', status: 200, aborted: false,
    dimensions: {}, counters: { Failure: 0, ClientError: 0, Aborted: 0 }, timers: { RequestTime: 1, CpuTime: 0.1 },
    timestamp: Date.now(), ...over,
  }
}

/**
 * The behaviour every sink shares. Each sink's test file calls this with a factory for a fresh sink.
 *
 * @example
 * sinkContract('memorySink', async () => { const sink = memorySink(); return { sink, delivered: async (r) => … } })
 */
export function sinkContract(name: string, make: () => Promise<SinkUnderTest>): void {
  const test = uvuTest
  test(`${name} contract: a sent batch is delivered after flush()`, async () => {
    const h = await make()
    await h.sink.send([record({ route: 'contract.a' }), record({ route: 'contract.a' })])
    await h.sink.flush()
    assert.is(await eventually(() => h.delivered('contract.a'), 2), 2)
    await h.sink.close()
    await h.dispose?.()
  })

  // The pipeline drives flushing: metrics.flush() empties every wrapper's batcher into its sink, then flushes
  // the sink. The sink's own flush() only pushes out what the sink itself holds.
  test(`${name} contract: metrics.flush() delivers what a wrapper still buffers`, async () => {
    const h = await make()
    const server = http.createServer(withMetrics((_req, res) => res.end(), { sink: h.sink, flushInterval: 3_600_000 }))
    const { url, close } = await listen(server)
    await fetchText(`${url}/contract/b`)
    await fetchText(`${url}/contract/b`)
    await close()
    await h.sink.flush()
    assert.is(await h.delivered('contract.b'), 0, "the sink's own flush() does not reach into a wrapper's batcher")
    await metrics.flush()
    assert.is(await eventually(() => h.delivered('contract.b'), 2), 2)
    await h.sink.close()
    await h.dispose?.()
  })

  test(`${name} contract: hostile names, dimensions and values never throw nor break what follows`, async () => {
    const h = await make()
    const nasty = 'a:b|c@d#e,f=g h\nI\u0000j/\\.'
    await h.sink.send([
      record({
        route: nasty, prefix: nasty, method: nasty, dimensions: { [nasty]: nasty }, counters: { [nasty]: 1 }, timers: { [nasty]: 0 },
      }),
      record({ kind: 'process', route: '', method: '', status: 0, counters: { x: -5 }, timers: {} }),
    ])
    await h.sink.send([record({ route: 'contract.after' })])
    await h.sink.flush()
    assert.is(await eventually(() => h.delivered('contract.after'), 1), 1)
    await h.sink.close()
    await h.dispose?.()
  })

  test(`${name} contract: close() is idempotent and bounded`, async () => {
    const h = await make()
    const started = Date.now()
    await Promise.all([h.sink.close(), h.sink.close()])
    await h.sink.close()
    assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`)
    await h.dispose?.()
  })
}
