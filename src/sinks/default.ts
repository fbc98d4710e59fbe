import { redisSink } from './redis.js'
import type { Sink } from './sink.js'
import { statsdSink } from './statsd.js'

let shared: Sink | undefined

/**
 * The sink of wrappers given none, shared by all of them (one connection per process): StatsD when
 * `ROUTEMETER_STATSD` is set, else Redis at `ROUTEMETER_REDIS_URL` or `redis://127.0.0.1:6379` (Kadabra's
 * convention). When that Redis is absent the sink warns once, keeps a bounded backlog and keeps retrying;
 * the app is served as usual.
 *
 * @example
 * const sink = defaultSink() // what withMetrics(app) uses
 */
export function defaultSink(): Sink {
  shared ??= process.env.ROUTEMETER_STATSD ? statsdSink() : redisSink()
  return shared
}
