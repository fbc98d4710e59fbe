import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Collector } from '../collect/collector.js'
import { runAsRequest } from './run-as-request.js'
import type { MetricsOptions } from '../options.js'
import { collectorOf, createRecorder } from './recorder.js'

/** The part of a Koa context the middleware reads. `_matchedRoute` is where @koa/router puts the route. */
export interface KoaContextLike {
  req: IncomingMessage
  res: ServerResponse
  _matchedRoute?: unknown
}

/** A Koa middleware. */
export type KoaMiddleware = (ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<void>

/**
 * The same measurement as {@link withMetrics}, as Koa middleware. Mount it first, before the routers, so it
 * sees the whole request and reads @koa/router's matched route (`/api/users/:id`, nested routers included).
 * An error a downstream middleware throws is re-thrown unchanged; one whose `status` is below 500 (for
 * example `ctx.throw(404)`) is the client's error, not a `Failure`.
 *
 * @example
 * const app = new Koa()
 * app.use(koaMetrics({ prefix: 'shop' }))
 * app.use(router.routes())
 */
export function koaMetrics(options?: MetricsOptions): KoaMiddleware {
  const recorder = createRecorder(options)
  if (!recorder.enabled) return function routemeterDisabled(_ctx, next) { return next().then(noop) }
  const clock = recorder.clock

  return async function routemeter(ctx, next) {
    const outer = collectorOf(ctx.res)
    const c = outer ?? recorder.begin(ctx.req, ctx.res)
    if (c === undefined) return next().then(noop)
    try {
      if (outer !== undefined) {
        await next()
      } else {
        // koa-compose's next() never throws synchronously (it returns a rejected promise), so every error
        // arrives through the catch below, where client errors are told apart.
        await runAsRequest(clock, c, next, undefined, undefined, undefined)
      }
    } catch (error) {
      // As withMetrics: a throw after the response ended is no Failure (its record may have left already).
      if (!isClientError(error) && !c.closed) c.threw = true
      throw error
    } finally {
      readRoute(c, ctx)
    }
  }
}

function readRoute(c: Collector, ctx: KoaContextLike): void {
  if (c.template === undefined && typeof ctx._matchedRoute === 'string') c.template = ctx._matchedRoute
}

function isClientError(error: unknown): boolean {
  const status = (error as { status?: unknown, statusCode?: unknown } | null)?.status ??
    (error as { statusCode?: unknown } | null)?.statusCode
  return typeof status === 'number' && status >= 400 && status < 500
}

function noop(): void {}
