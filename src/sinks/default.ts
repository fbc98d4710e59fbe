import { warn } from '../util/warn.js'
import { redisSink } from './redis.js'
import { resolveRedisTarget } from '../redis/target.js'
import type { Sink } from './sink.js'
import { parseStatsdAddress, statsdSink } from './statsd.js'

let shared: Sink | undefined

/**
 * The sink of wrappers given none, shared by all of them (one connection per process): StatsD when
 * `ROUTEMETER_STATSD` is set, else Redis at `ROUTEMETER_REDIS_URL` or `redis://127.0.0.1:6379` (Kadabra's
 * convention), stream `routemeter`. When that Redis is absent the sink warns once, keeps a bounded backlog and
 * keeps retrying; the app is served as usual.
 *
 * A default that writes into whatever listens on a local port must not do so silently: at the first batch it
 * says once where the metrics go (a `RouteMeterWarning`, code `RM_DEFAULT_SINK`, password redacted).
 *
 * @example
 * const sink = defaultSink() // what withMetrics(app) uses
 */
export function defaultSink(): Sink {
  if (shared !== undefined) return shared
  const statsd = parseStatsdAddress(process.env.ROUTEMETER_STATSD)
  if (statsd !== undefined) {
    shared = announced(statsdSink(), `StatsD at ${statsd.host}:${statsd.port} (from ROUTEMETER_STATSD)`)
  } else {
    const from = process.env.ROUTEMETER_REDIS_URL ? 'from ROUTEMETER_REDIS_URL' : 'the default; set ROUTEMETER_REDIS_URL or pass a sink'
    shared = announced(redisSink(), `Redis at ${resolveRedisTarget(undefined, 'url').safe}, stream "routemeter" (${from})`)
  }
  return shared
}

/**
 * `sink`, saying where it sends the first time it is given a batch (not at startup: nothing may be sent at all).
 * Otherwise the same sink: `acceptsOnSend` included, so the batcher counts a given-up send as the sink would.
 *
 * @example
 * const sink = announced(statsdSink(), 'StatsD at 127.0.0.1:8125')
 */
export function announced(sink: Sink, where: string): Sink {
  let told = false
  return {
    acceptsOnSend: sink.acceptsOnSend,
    send(batch) {
      if (!told) {
        told = true
        warn('RM_DEFAULT_SINK', `sending metrics to ${where}`)
      }
      return sink.send(batch)
    },
    flush: () => sink.flush(),
    close: (timeoutMs) => sink.close(timeoutMs),
  }
}
