import type { IncomingMessage, ServerResponse } from 'node:http'
import { runAsRequest } from './run-as-request.js'
import type { MetricsOptions } from '../options.js'
import { createRecorder } from './recorder.js'

/** A Connect/Express middleware. */
export type ConnectMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void

/**
 * The same measurement as {@link withMetrics}, as Connect/Express middleware. Mount it first. Route
 * templates come from Express (`req.baseUrl + req.route.path`, nested routers included); plain Connect has
 * no templates, so names come from the `routes` patterns or the path heuristic.
 *
 * @example
 * const app = express()
 * app.use(connectMetrics({ sink: statsdSink(), prefix: 'shop' }))
 * app.get('/users/:id', handler) // recorded as shop.users.id.*
 */
export function connectMetrics(options?: MetricsOptions): ConnectMiddleware {
  const recorder = createRecorder(options)
  if (!recorder.enabled) return function routemeterDisabled(_req, _res, next) { next() }
  const clock = recorder.clock

  return function routemeter(req, res, next) {
    const c = recorder.begin(req, res)
    if (c === undefined) return next()
    runAsRequest(clock, c, next, undefined, undefined, undefined)
  }
}
