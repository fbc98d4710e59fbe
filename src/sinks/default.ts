import type { Sink } from './sink.js'
import { statsdSink } from './statsd.js'
import { memorySink } from './memory.js'
import { warnOnce } from '../util/warn.js'

let shared: Sink | undefined

/**
 * The sink of wrappers given none, shared by all of them (one socket per process): StatsD when
 * `ROUTEMETER_STATSD` is set, else Redis at `ROUTEMETER_REDIS_URL` or `redis://127.0.0.1:6379`.
 */
export function defaultSink(): Sink {
  if (shared !== undefined) return shared
  if (process.env.ROUTEMETER_STATSD) shared = statsdSink()
  else {
    warnOnce('RM_NO_SINK', 'routemeter: no sink configured and no Redis sink available yet; keeping the last records in memory')
    shared = memorySink()
  }
  return shared
}
