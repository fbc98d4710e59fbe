// Express 5 contenders: bare Express (the base for the Express peers), express-prom-bundle, and
// connect-datadog. Each peer is configured the way its README shows for per-route metrics; nothing tuned.
import express from 'express'
import { mountExpress } from '../app.mjs'

export async function create({ variant, statsdPort }) {
  const app = express()
  app.set('etag', false)
  app.set('x-powered-by', false)

  if (variant === 'express') {
    mountExpress(app)
    return { listener: app, async verify(served) { return { ok: served > 0, detail: 'baseline, records nothing' } } }
  }

  if (variant === 'prom') {
    const { default: promBundle } = await import('express-prom-bundle')
    const promClient = (await import('prom-client')).default
    // includeMethod + includePath: one histogram series per method and normalised path (the README's setup).
    const registry = new promClient.Registry()
    app.use(promBundle({ includeMethod: true, includePath: true, promRegistry: registry, autoregister: true }))
    mountExpress(app)
    return {
      listener: app,
      async verify(served) {
        const metric = registry.getSingleMetric('http_request_duration_seconds')
        const { values } = await metric.get()
        const counted = values.filter((v) => v.metricName === 'http_request_duration_seconds_count')
        const count = counted.reduce((sum, v) => sum + v.value, 0)
        const paths = [...new Set(counted.map((v) => v.labels.path))]
        return {
          ok: count >= served && served > 0,
          detail: `histogram count ${count} for ${served} requests served; paths ${paths.slice(0, 6).join(' ')}`,
        }
      },
    }
  }

  if (variant === 'datadog') {
    const { default: connectDatadog } = await import('connect-datadog')
    const { default: StatsD } = await import('hot-shots')
    const errors = []
    // connect-datadog creates an unbuffered hot-shots client by default; we hand it the same default
    // client pointed at our UDP socket (and an errorHandler, so a socket error cannot crash the bench).
    const dogstatsd = new StatsD({ host: '127.0.0.1', port: statsdPort, errorHandler: (err) => errors.push(err) })
    app.use(connectDatadog({ dogstatsd }))
    mountExpress(app)
    return {
      listener: app,
      async verify(served) {
        await new Promise((resolve) => dogstatsd.flush(resolve))
        return {
          ok: errors.length === 0 && served > 0,
          detail: `${errors.length} client errors${errors[0] ? `: ${errors[0].message}` : ''}`,
        }
      },
    }
  }

  throw new TypeError(`unknown express variant ${variant}`)
}
