import type { AnyRequest } from '../collect/collector.js'
import type { MetricsOptions } from '../options.js'
import { runAsRequest } from './run-as-request.js'
import { isThenable } from '../util/thenable.js'
import { createRecorder, type AnyResponse } from './recorder.js'

/** Any `(req, res)` request listener: `node:http`, `node:https`, `node:http2` compat, Koa's `callback()`, Connect, Express. */
export type RequestListener<Req extends AnyRequest = AnyRequest, Res extends AnyResponse = AnyResponse> =
  (this: unknown, req: Req, res: Res) => unknown

/**
 * Wraps a request listener so every request it serves is measured. The wrapper changes no status, header,
 * body, stream or error: a synchronous throw and a rejected promise reach the server as they would without
 * it (with `Failure = 1` recorded). Metrics leave after the response ends, in batches, off the request path.
 *
 * @example
 * import http from 'node:http'
 * import { withMetrics, statsdSink } from 'routemeter'
 *
 * http.createServer(withMetrics((req, res) => res.end('ok'), { sink: statsdSink(), prefix: 'shop' })).listen(3000)
 *
 * @example
 * // Koa and Express: wrap what you would give to http.createServer
 * http.createServer(withMetrics(koaApp.callback()))
 * http.createServer(withMetrics(expressApp))
 */
// `any` in the constraint, checked with tsc: `RequestListener<AnyRequest, AnyResponse>` refuses a listener typed
// for one server's classes (`(req: IncomingMessage, res: ServerResponse) => …`, its parameters are narrower), and
// with `never` an inline `(req, res) => res.end('ok')` gets `never` parameters and does not compile. The server
// still checks the listener's own types: `L` is returned unchanged.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- accepts both typed and inline listeners (above)
export function withMetrics<L extends RequestListener<any, any>>(listener: L, options?: MetricsOptions): L {
  if (typeof listener !== 'function') {
    throw new TypeError(
      'routemeter: withMetrics(listener) needs a (req, res) function (for Koa pass app.callback()), ' +
      `got ${listener === null ? 'null' : typeof listener}`,
    )
  }
  const recorder = createRecorder(options)
  if (!recorder.enabled) {
    return function routemeterDisabled(this: unknown, req: AnyRequest, res: AnyResponse) {
      return listener.call(this, req, res)
    } as L
  }
  const clock = recorder.clock

  return function routemeter(this: unknown, req: AnyRequest, res: AnyResponse) {
    const c = recorder.begin(req, res)
    if (c === undefined) return listener.call(this, req, res)
    const result = runAsRequest(clock, c, listener, this, req, res)
    if (!isThenable(result)) return result
    // Only async listeners pay for this closure. The listener's own `then` makes the returned promise, so it is of
    // the listener's kind and settles as its does: a rejection is still unhandled (or handled) exactly where it
    // was, by the rules of that promise library. A `then` that throws hands the value back as it came (Node
    // ignores what a listener returns). A rejection after the response ended does not count as a Failure: the
    // record may have left already, and a count that depended on when the next flush came would not be a metric.
    try {
      return result.then(undefined, (error: unknown) => {
        if (!c.closed) c.threw = true
        throw error
      })
    } catch {
      return result
    }
  } as L
}
