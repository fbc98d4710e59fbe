// routemeter's withMetrics on bare node:http, zero route configuration, with one sink and one cpu mode per
// contender. Imported from the build (../../dist, or ROUTEMETER_BENCH_DIST; `dist: 'before'` takes
// ROUTEMETER_BENCH_DIST_BEFORE): the bench measures the compiled library, as users run it.
import { app } from '../app.mjs'
import { distEntry } from '../lib/dist.mjs'

const MEMORY_SINK_MAX = 10_000

export async function create({ sink: sinkName, cpu, dist, hooks, statsdPort, redisUrl, stream, flushInterval, batchSize }) {
  const lib = await import(distEntry(dist))
  if (hooks === 'switch') await installIdleSwitchHook(dist)
  const rm = lib.withMetrics ? lib : lib.default
  const errors = []
  let sink
  switch (sinkName) {
    case 'memory': sink = rm.memorySink(); break
    // Keeps nothing: what bench/instructions.mjs counts with, since 10,000 records held by memorySink make the
    // old generation grow and a mark-compact (60,000 instructions a request over a 1,500-request window) land
    // in some windows and not others.
    case 'discard': sink = discardSink(); break
    case 'statsd': sink = rm.statsdSink({ host: '127.0.0.1', port: statsdPort }); break
    case 'redis':
      if (typeof rm.redisSink !== 'function') throw new Error('dist/index.js exports no redisSink')
      sink = rm.redisSink({ url: redisUrl, stream })
      break
    default: throw new TypeError(`unknown sink ${sinkName}`)
  }
  // Only the options a contender varies are passed, so `cpu: undefined` means the library's default.
  const options = { sink, onError: (err) => errors.push(err) }
  if (cpu !== undefined) options.cpu = cpu
  if (flushInterval !== undefined) options.flushInterval = flushInterval
  if (batchSize !== undefined) options.batchSize = batchSize
  const listener = rm.withMetrics(app, options)

  return {
    listener,
    async verify(served) {
      await rm.metrics.flush()
      const failed = errors.length ? `; ${errors.length} sink errors, first: ${errors[0].message}` : ''
      if (sinkName === 'discard') {
        // Not exact: the few still in flight at the check are not recorded yet. Requests that reach no handler
        // (`served` counts handlers) are recorded too but not counted (the sink counts 2xx records): each load
        // run's primes, one 404 per connection, were 16 of 361 records in a `run.mjs --quick` json cell.
        const ok = errors.length === 0 && sink.received >= 0.99 * served && sink.received <= 1.01 * served &&
          (cpu === false) === (sink.lastCpu === undefined)
        return { ok, detail: `${sink.received} records for ${served} requests served${failed}` }
      }
      if (sinkName !== 'memory') return { ok: errors.length === 0 && served > 0, detail: `flushed${failed}` }
      const records = sink.records()
      const requests = records.filter((r) => r.kind === undefined || r.kind === 'request')
      const last = requests[requests.length - 1]
      const routes = [...new Set(requests.map((r) => r.route))]
      const hasCpu = last !== undefined && typeof last.timers.CpuTime === 'number'
      // memorySink keeps the newest `max` records (default 10 000): every request served, or a full sink.
      const ok = errors.length === 0 && requests.length > 0 && records.length >= Math.min(served, MEMORY_SINK_MAX) &&
        (cpu === false ? !hasCpu : hasCpu) &&
        routes.every((r) => r !== '' && !/\d{3,}/.test(r))
      return {
        ok,
        detail: `${requests.length} records for ${served} requests served; routes ${routes.slice(0, 8).join(' ')}` +
          `${last ? `; last ${JSON.stringify({ route: last.route, status: last.status, timers: last.timers })}` : ''}${failed}`,
      }
    },
    reset() { if (sinkName === 'memory') sink.clear() },
  }
}

/**
 * The attributed clock's switch hook, installed as that clock installs it (V8 promise hooks plus an async_hooks
 * `before` on Node 24, async_hooks elsewhere) and reading the request's store at every callback, but handing
 * it to a function that does nothing: with `cpu: false`, the price of the hook mechanism alone, without the
 * clock reads and slot switches, and on for good, as the clock keeps it while any request is waiting. It also
 * wraps `AsyncResource.prototype.runInAsyncScope`, as the clock does; the bench app does not call it.
 */
async function installIdleSwitchHook(dist) {
  const file = (name) => new URL(`collect/${name}.js`, distEntry(dist)).href
  const { installSwitchHook } = await import(file('cpu-switch-hook'))
  const { requestContext } = await import(file('context'))
  // Installed off (builds before 2026-12-02's return a string): on, as while a request is waiting.
  installSwitchHook(requestContext, () => {}).on?.()
}

/**
 * A sink that counts the request records it is sent with a 2xx status (the process records of each flush interval
 * and the load's 404 primes aside) and keeps only the last one's CpuTime, for the checks.
 */
function discardSink() {
  const sink = {
    received: 0,
    lastCpu: undefined,
    send(batch) {
      for (const r of batch) {
        if (r.kind !== undefined && r.kind !== 'request') continue
        if (r.status < 200 || r.status > 299) continue
        sink.received++
        sink.lastCpu = r.timers.CpuTime
      }
    },
    flush: async () => {},
    close: async () => {},
  }
  return sink
}
