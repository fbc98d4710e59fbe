/*
 * routemeter: per-route metrics for any Node.js HTTP server.
 *
 *  (req,res) ─► adapter ─► Collector ──(response ends)──► Batcher ─► Sink ─► StatsD / Redis stream ─► agent
 *   adapters/    wrap       collect/                       pipeline/   sinks/                          agent/
 */
export { withMetrics, type RequestListener } from './adapters/wrap.js'
export { connectMetrics, type ConnectMiddleware } from './adapters/connect.js'
export { koaMetrics, type KoaMiddleware, type KoaContextLike } from './adapters/koa.js'
export {
  fastifyMetrics, type FastifyMetricsPlugin, type FastifyInstanceLike, type FastifyRequestLike, type FastifyReplyLike, type FastifyHookLike,
} from './adapters/fastify.js'
export { metrics, type Metrics, type MetricsStats } from './metrics.js'
export type { Recording } from './collect/recording.js'
export { normalizePath } from './collect/normalize-path.js'
export { templateToName } from './collect/route-namer.js'
export type { MetricRecord } from './wire/record.js'
export type { AnyRequest } from './collect/collector.js'
export type { AnyResponse } from './adapters/recorder.js'
export type { CpuMode } from './collect/cpu-clock.js'
export type { MetricsOptions } from './options.js'
export { memorySink, type MemorySink, type MemorySinkOptions } from './sinks/memory.js'
export { statsdSink, type StatsdSinkOptions } from './sinks/statsd.js'
export { redisSink, type RedisSink, type RedisSinkOptions, type RedisSinkStats } from './sinks/redis.js'
export { DROPPED_BACKLOG_COUNTER } from './sinks/redis-delivery.js'
export type { Sink } from './sinks/sink.js'
export type { ErrorHandler } from './util/warn.js'
export { OptionError } from './util/option-check.js'
export { startAgent, type Agent, type AgentOptions, type AgentStats } from './agent/agent.js'
export { influxPublisher, type InfluxPublisherOptions, type InfluxV1Options, type InfluxV2Options } from './agent/influx-publisher.js'
export { statsdPublisher, type StatsdPublisherOptions } from './agent/statsd-publisher.js'
export { consolePublisher, type ConsolePublisherOptions } from './agent/console-publisher.js'
export { prometheusPublisher, type PrometheusPublisher, type PrometheusPublisherOptions } from './agent/prometheus-publisher.js'
export { DEFAULT_BUCKETS_MS } from './agent/prometheus-exposition.js'
export { PublishError, type Publisher, type AgentEntry, type Series } from './agent/publisher.js'
export { StreamDecodeError, type DecodedBatch, type DecodedGroup } from './wire/stream-encoding.js'
