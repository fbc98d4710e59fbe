import type { AnyRequest } from '../collect/collector.js'
import type { MetricsOptions } from '../options.js'
import { collectorOf, createRecorder, type AnyResponse } from './recorder.js'
import { runAsRequest } from './run-as-request.js'
import { UNMATCHED_ROUTE } from '../collect/route-namer.js'

/*
 * Structural types of the few Fastify members the plugin touches, so the emitted declarations never name
 * `fastify`: an app without Fastify installed type-checks against routemeter as before.
 */

/** The part of a Fastify request the plugin reads. */
export interface FastifyRequestLike {
  readonly raw: AnyRequest
  /** Fastify's route options; `url` is the route template (`/users/:id`), `undefined` for a 404. */
  readonly routeOptions: { readonly url?: string | undefined }
}

/** The part of a Fastify reply the plugin reads. */
export interface FastifyReplyLike {
  readonly raw: AnyResponse
}

/** A callback-style Fastify hook, as the plugin adds them. */
export type FastifyHookLike = (request: FastifyRequestLike, reply: FastifyReplyLike, done: (error?: Error) => void) => void

/** The part of a Fastify instance the plugin uses. Method syntax, so Fastify's overloaded `addHook` fits it. */
export interface FastifyInstanceLike {
  addHook(name: 'onRequest', hook: FastifyHookLike): unknown
  /** The server Fastify answers on; its `'request'` event shows the requests Fastify answers before any hook. */
  readonly server?: { on(event: 'request', listener: (req: AnyRequest, res: AnyResponse) => void): unknown }
}

/** A Fastify plugin (callback style), not encapsulated: its hooks see every route of the instance it is registered on. */
export type FastifyMetricsPlugin = (instance: FastifyInstanceLike, options: unknown, done: (error?: Error) => void) => void

// What fastify-plugin sets, spelled out here so Fastify need not be a dependency: `skip-override` keeps
// the plugin out of an encapsulation context, so its hook is added to the instance it is registered on and
// applies to all of that instance's routes, those of child plugins and those declared before it included.
const SKIP_OVERRIDE = Symbol.for('skip-override')
const DISPLAY_NAME = Symbol.for('fastify.display-name')
const PLUGIN_META = Symbol.for('plugin-meta')

/**
 * The same measurement as {@link withMetrics}, as a Fastify (v5) plugin. Register it on the root instance,
 * before your own hooks: it is not encapsulated, so it measures every route, those of plugins included.
 * Names come from `request.routeOptions.url`, the route template with any prefix (`/api/users/:id` →
 * `api.users.id`); a request no route matched (Fastify's 404) is named from its path, so an unclaimed 404 is
 * `unmatched`, and so are the requests its router rejects before any hook (a malformed URL, a parameter over
 * `maxParamLength`); its 503s while closing (`return503OnClosing`) are named from their path. Those are timed
 * from the moment Fastify answered them. Otherwise `RequestTime` runs from Fastify's first `onRequest` hook
 * (routing done, body not read) to the response's `finish`, or the connection's `close`. An error a handler throws or rejects with goes to
 * Fastify's error handler unchanged; `Failure` follows the status it sends (500 by default). `metrics.*`
 * works in every hook after `onRequest` and in handlers: they run inside the request's context, also after a
 * request body was read (Fastify resumes the context the body parser started in). A `reply.hijack()`ed
 * response is measured until its raw response ends.
 *
 * @example
 * import { fastifyMetrics, statsdSink } from 'routemeter'
 *
 * const app = Fastify() // the app's own Fastify 5: routemeter depends on none
 * app.register(fastifyMetrics({ sink: statsdSink(), prefix: 'shop' }))
 * app.get('/users/:id', async (request) => ({ id: request.params.id })) // recorded as shop.users.id.*
 * await app.listen({ port: 3000 })
 */
export function fastifyMetrics(options?: MetricsOptions): FastifyMetricsPlugin {
  const recorder = createRecorder(options)
  if (!recorder.enabled) return plugin(function routemeterDisabled(_instance, _options, done) { done() })
  const clock = recorder.clock

  function onRequest(request: FastifyRequestLike, reply: FastifyReplyLike, done: (error?: Error) => void): void {
    const res = reply.raw
    const outer = collectorOf(res)
    // An outer withMetrics (a serverFactory wrapping Fastify's handler) already measures and holds the
    // context: only the template is added, so the request is not counted twice.
    const c = outer ?? recorder.begin(request.raw, res)
    if (c === undefined) return done()
    // One getter call: Fastify builds a fresh routeOptions object per read.
    const url = request.routeOptions.url
    if (url !== undefined && c.template === undefined) c.template = templateOf(url)
    if (outer !== undefined) return done()
    // Every later hook and the handler run from this done(), from promises it starts, or (after a body was
    // read from the socket's callbacks) in an AsyncResource Fastify's body parser creates here: all in context.
    runAsRequest(clock, c, done, undefined, undefined, undefined)
  }

  // Fastify answers some requests before any hook: the router's rejects, a malformed URL (400) or a parameter
  // over `maxParamLength` (414), and any request while closing with `return503OnClosing` (503). Unseen, a
  // scanner's 400s were missing from ClientError and a drain's 503s from Failure. A `'request'` listener added
  // after Fastify's runs once Fastify's own returned: such a response has ended by then and has no collector.
  // A reject matched no route: `unmatched`, like a 404, which teaches the route model nothing; a 503 did
  // match one, which Fastify does not show on the raw request: it is named from its path. One property read
  // and one test for every other request.
  function onServerRequest(req: AnyRequest, res: AnyResponse): void {
    if (!res.writableEnded || collectorOf(res) !== undefined) return
    recorder.answered(req, res, res.statusCode >= 400 && res.statusCode < 500 ? UNMATCHED_ROUTE : undefined)
  }

  return plugin(function routemeter(instance, _options, done) {
    instance.addHook('onRequest', onRequest)
    instance.server?.on('request', onServerRequest)
    done()
  })
}

function plugin(fn: FastifyMetricsPlugin): FastifyMetricsPlugin {
  Object.defineProperty(fn, SKIP_OVERRIDE, { value: true })
  Object.defineProperty(fn, DISPLAY_NAME, { value: 'routemeter' })
  Object.defineProperty(fn, PLUGIN_META, { value: { name: 'routemeter' } })
  return fn
}

// Templates with a regular expression (`/files/:name(^\\w+).txt`) lose it here, so the name is the
// parameter's, not the expression's characters. Few routes have one; the check is a character search.
const regexTemplates = new Map<string, string>()
const MAX_REGEX_TEMPLATES = 1000

/**
 * A Fastify route URL as a template for `templateToName`: parameter regular expressions removed.
 *
 * @example
 * templateOf('/users/:id(^\\d+)') // '/users/:id'
 */
export function templateOf(url: string): string {
  if (url.indexOf('(') === -1) return url
  let template = regexTemplates.get(url)
  if (template === undefined) {
    template = stripRegex(url)
    if (regexTemplates.size >= MAX_REGEX_TEMPLATES) regexTemplates.clear()
    regexTemplates.set(url, template)
  }
  return template
}

/** Removes each `(…)` group, nested parentheses and escaped characters included. */
function stripRegex(url: string): string {
  let out = ''
  let depth = 0
  for (let i = 0; i < url.length; i++) {
    const ch = url[i]!
    if (depth > 0 && ch === '\\') { i++; continue }
    if (ch === '(') depth++
    else if (ch === ')' && depth > 0) depth--
    else if (depth === 0) out += ch
  }
  return out
}
