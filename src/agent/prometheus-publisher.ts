/**
 * `prometheusPublisher`: the agent as a Prometheus target. Every entry the agent reads is merged into
 * cumulative in-memory state (see prometheus-exposition.ts for names, labels and buckets), and `GET /metrics`
 * serves it in the text format over `node:http`.
 *
 * ```
 * Redis stream ─► agent ─► publish(entries) ─► seen ids? skip : PrometheusState.merge ─► ack
 *                                           Prometheus ──GET /metrics──► PrometheusState.render
 * ```
 *
 * Counting semantics, since a scrape sees totals and not points:
 * - Counters and histograms count since this agent process started: after a restart they start again from
 *   0, a reset that `rate()` and `increase()` account for. Entries the old process had exported but not yet
 *   acked are delivered again and counted again (at-least-once across a crash).
 * - A redelivered entry (the agent retries a batch when another publisher failed) is skipped: the ids of the
 *   last `dedupeIds` merged entries (default 100,000, ≈ 10 MB) are remembered, far more than the agent ever
 *   has in flight (a read is at most a few hundred entries).
 * - With several agents in one consumer group each exports what it consumed; sum over instances in PromQL.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ErrorHandler } from '../util/warn.js'
import { warningHandler } from '../util/warn.js'
import { optionChecks, optionsObject } from '../util/option-check.js'
import { pathOf } from '../util/url-path.js'
import { PrometheusState } from './prometheus-exposition.js'
import type { Publisher } from './publisher.js'

/** Connections the endpoint serves at once; more are closed as they arrive (Node's `maxConnections`). */
const MAX_SCRAPE_CONNECTIONS = 32
/** A request's headers and the whole request must arrive within this (Prometheus' own scrape timeout is 10 s). */
const SCRAPE_TIMEOUT_MS = 10_000
/** A connection with no bytes moving either way for this long is closed: a scraper that stopped reading. */
const SCRAPE_IDLE_MS = 30_000

/**
 * Options of {@link prometheusPublisher}.
 *
 * @example
 * const options: PrometheusPublisherOptions = { host: '127.0.0.1', port: 9464, statusCode: true }
 */
export interface PrometheusPublisherOptions {
  /** TCP port to serve `/metrics` on; 0 picks a free one (read it from `listening`). Default 9464. */
  port?: number
  /**
   * Interface to bind. Default: all interfaces, as every Prometheus exporter's `:port` means, since the
   * Prometheus server usually scrapes from another host. Give `127.0.0.1` to keep it on loopback.
   */
  host?: string
  /** Add `http_response_status_code` to request series besides `status_class`. Default false (fewer series). */
  statusCode?: boolean
  /** `le` boundaries in ms for every histogram (`RequestTime` is exported in seconds). Default `DEFAULT_BUCKETS_MS`. */
  bucketsMs?: readonly number[]
  /**
   * Label sets kept; past it new ones merge into one `otel_metric_overflow="true"` series per metric, and a
   * metric name not seen before is left out (counted in `routemeter_prometheus_overflow_total`). Default 10,000.
   */
  maxSeries?: number
  /** Entry ids remembered to skip redeliveries. Default 100,000. */
  dedupeIds?: number
  /** Told when the port cannot be bound. Default: a `RouteMeterWarning` (code `RM_AGENT_PROMETHEUS`). */
  onError?: ErrorHandler
}

/**
 * A {@link Publisher} that also serves `/metrics`.
 *
 * @example
 * const { port } = await prometheusPublisher({ port: 0 }).listening // a free port, for tests
 */
export interface PrometheusPublisher extends Publisher {
  /** Resolves with the bound address once the server listens; rejects when it cannot (port in use). */
  readonly listening: Promise<AddressInfo>
}

/**
 * A publisher that Prometheus scrapes: `GET http://<host>:<port>/metrics`. Request durations are the
 * histogram `http_server_request_duration_seconds` (labels `http_route`, `http_request_method`,
 * `status_class`), other timers `routemeter_<name>_milliseconds`, counters `routemeter_<name>_total`.
 *
 * @example
 * const prometheus = prometheusPublisher({ port: 9464 })
 * startAgent({ publishers: [prometheus] })
 * // scrape_configs: [{ job_name: routemeter, static_configs: [{ targets: ['agent-host:9464'] }] }]
 * // histogram_quantile(0.99, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket[5m])))
 */
export function prometheusPublisher(options?: PrometheusPublisherOptions): PrometheusPublisher {
  const o = optionsObject('prometheusPublisher', options)
  const check = optionChecks('prometheusPublisher')
  const port = check.integer('port', o.port, 9464, 0, 65535)
  // No default: listen() without a host takes every interface, as `host` promises.
  const host = o.host === undefined ? undefined : check.string('host', o.host, '')
  const statusCode = check.boolean('statusCode', o.statusCode, false)
  const maxSeries = check.integer('maxSeries', o.maxSeries, 10_000, 1, Number.MAX_SAFE_INTEGER)
  const dedupeIds = check.integer('dedupeIds', o.dedupeIds, 100_000, 0, Number.MAX_SAFE_INTEGER)
  const onError = check.func<ErrorHandler>('onError', o.onError, 'a function (error) => void') ?? warningHandler('RM_AGENT_PROMETHEUS')
  const state = new PrometheusState({ bucketsMs: o.bucketsMs, statusCode, maxSeries })
  // A Set keeps insertion order, so the oldest id is the first one iterated: a FIFO window of ids.
  const seen = new Set<string>()
  let duplicates = 0

  const server: Server = createServer((req, res) => {
    // pathOf, as the app side reads paths: `GET http://agent:9464/metrics` (absolute-form) is /metrics too.
    const path = pathOf(req.url ?? '/')
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(path === '/metrics' ? 405 : 404, { 'content-type': 'text/plain; charset=utf-8' })
      res.end(path === '/metrics' ? 'GET only\n' : 'routemeter agent: metrics are at /metrics\n')
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
    if (req.method === 'HEAD') { res.end(); return }
    serve(res).catch((error: unknown) => { res.destroy(error as Error) })
  })
  // Rendered a piece at a time, the loop free between pieces: 7,500 label sets (25 MB, 206,000 lines) took
  // 270–320 ms to render in one go, and a scrape of them held the agent's loop (reading, acking, publishing)
  // for 370–710 ms at a stretch; in 256 KB pieces the longest stretch was 37–91 ms (the first scrape, cold, the
  // longest), the scrape itself 390–800 ms against 540–1,370 (`node bench/prometheus-scrape.mjs`, Node 20 and
  // 24). A scraper that reads slowly is waited for ('drain'), not buffered for.
  async function serve(res: ServerResponse): Promise<void> {
    for (const chunk of state.chunks()) {
      if (res.destroyed) return // the scraper went away: stop rendering for it
      if (!res.write(chunk)) await drainedOrClosed(res)
      else await new Promise((resolve) => setImmediate(resolve))
    }
    if (!res.destroyed) res.end(own(state.overflowed, duplicates))
  }
  // A scrape endpoint, not a web server: a few scrapers at a time, and none may hold a connection idle for long.
  server.maxConnections = MAX_SCRAPE_CONNECTIONS
  server.headersTimeout = SCRAPE_TIMEOUT_MS
  server.requestTimeout = SCRAPE_TIMEOUT_MS
  server.timeout = SCRAPE_IDLE_MS
  // The agent's Redis connection keeps its process alive; the endpoint alone never should.
  server.unref()
  const listening = new Promise<AddressInfo>((resolve, reject) => {
    let bound = false
    // Kept after listen: a listening server still emits 'error' when accept() fails (EMFILE when slow or
    // stuck scrapers hold every descriptor), and an 'error' event without a listener would crash the agent.
    server.on('error', (error: NodeJS.ErrnoException) => {
      const message = bound
        ? `prometheus: /metrics on ${host ?? '*'}:${port}: ${error.message}`
        : `prometheus: cannot serve /metrics on ${host ?? '*'}:${port}: ${error.message}`
      const failure = Object.assign(new Error(message, { cause: error }), { code: error.code })
      try { onError(failure) } catch { /* hook must not throw into us */ }
      if (!bound) reject(failure)
    })
    server.listen(port, host, () => { bound = true; resolve(server.address() as AddressInfo) })
  })
  // Whoever does not wait for `listening` has been told through onError; no unhandled rejection.
  listening.catch(() => {})

  return {
    name: 'prometheus',
    listening,
    async publish(entries) {
      for (const entry of entries) {
        if (seen.has(entry.id)) { duplicates++; continue }
        if (dedupeIds > 0) {
          seen.add(entry.id)
          if (seen.size > dedupeIds) seen.delete(seen.values().next().value as string)
        }
        state.merge(entry.series())
      }
    },
    async close() {
      if (!server.listening) return
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        // Prometheus keeps its scrape connection alive; without this close() would wait for it to idle out.
        server.closeAllConnections()
      })
    },
  }
}

/** Resolves when `res` can take more, or is gone; leaves no listener behind either way. */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}

/** The publisher's own counters, so a dashboard can see label sets overflowing and redeliveries skipped. */
function own(overflowed: number, duplicates: number): string {
  return '# HELP routemeter_prometheus_overflow_total Series merged into an otel_metric_overflow series, ' +
    'or of new metric names left out (maxSeries reached).\n' +
    '# TYPE routemeter_prometheus_overflow_total counter\n' +
    `routemeter_prometheus_overflow_total ${overflowed}\n` +
    '# HELP routemeter_prometheus_duplicate_entries_total Redelivered stream entries skipped (already counted).\n' +
    '# TYPE routemeter_prometheus_duplicate_entries_total counter\n' +
    `routemeter_prometheus_duplicate_entries_total ${duplicates}\n`
}
