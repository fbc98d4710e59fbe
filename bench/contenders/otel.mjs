// Peer: OpenTelemetry's @opentelemetry/instrumentation-http recording its HTTP server metrics
// (http.server.request.duration, stable semantic conventions) into the metrics SDK, on bare node:http.
// The reader exports nowhere: a PeriodicExportingMetricReader (default 60 s interval) with an exporter
// that drops everything, so we measure recording and aggregation, not a network export. No tracer provider
// is registered, as in a metrics-only setup; the instrumentation still runs its span path against the API's
// no-op tracer.
import { createRequire } from 'node:module'
import { metrics } from '@opentelemetry/api'
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics'
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http'
import { app } from '../app.mjs'

const nowhere = {
  export(_metrics, done) { done({ code: 0 }) },
  async forceFlush() {},
  async shutdown() {},
}

export async function create() {
  const reader = new PeriodicExportingMetricReader({ exporter: nowhere })
  const provider = new MeterProvider({ readers: [reader] })
  metrics.setGlobalMeterProvider(provider)
  const instrumentation = new HttpInstrumentation()
  instrumentation.setMeterProvider(provider)
  instrumentation.enable()
  // ESM imports of builtins bypass require hooks; requiring http once lets the instrumentation patch
  // http.Server.prototype, which the ESM import shares.
  createRequire(import.meta.url)('node:http')

  return {
    listener: app,
    async verify(served) {
      const { resourceMetrics } = await reader.collect()
      let count = 0
      let points = 0
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          if (metric.descriptor.name !== 'http.server.request.duration') continue
          for (const point of metric.dataPoints) { points++; count += point.value.count }
        }
      }
      return {
        ok: count >= served && served > 0,
        detail: `http.server.request.duration: ${points} data points, count ${count} for ${served} requests served`,
      }
    },
  }
}
