import type { ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import type { Http2ServerResponse } from 'node:http2'
import { performance } from 'node:perf_hooks'
import { Collector, type AnyRequest } from '../collect/collector.js'
import { offClock, type CpuClock } from '../collect/cpu-clock.js'
import { createMeter } from '../pipeline/meter.js'
import { resolveOptions, type MetricsOptions } from '../options.js'
import { countDrop } from '../util/drops.js'
import { report } from '../util/warn.js'
import { mountTemplate } from './express-mount.js'

/** A response of `node:http`, `node:https` or the `node:http2` compatibility API. */
export type AnyResponse = ServerResponse | Http2ServerResponse

/** Where a response keeps its collector, so `finish`/`close` handlers shared by all requests can find it. */
export const kCollector = Symbol('routemeter.collector')

type Measured = AnyResponse & { [kCollector]?: Collector }
/** An HTTP/1 connection (its socket), as far as the recorder uses it. */
type Connection = { once?: (event: 'close', listener: (this: Connection) => void) => unknown }
/** The box in which a connection keeps its last response until that ends (see `attached`). */
type ConnectionSlot = { res: Measured | null }
/** What Express (and Connect apps using Express' router) leave on the request. */
type RoutedRequest = AnyRequest & { route?: { path?: unknown }, baseUrl?: string, app?: unknown }

/** The per-wrapper state every adapter shares: options read once, a lean `begin` per request. */
export interface Recorder {
  readonly enabled: boolean
  readonly clock: CpuClock
  /** Starts measuring; `undefined` when the request is excluded or an outer wrapper already measures it. */
  begin(req: AnyRequest, res: AnyResponse): Collector | undefined
  /**
   * Records a response the framework answered before `begin` could be called (Fastify's router rejects): from
   * now, since what came before cannot be measured any more, ended at once when it has already finished; named
   * `route`, or from its path when undefined. Nothing when it is measured already or excluded.
   */
  answered(req: AnyRequest, res: AnyResponse, route: string | undefined): void
}

/** The collector measuring `res`, if any (an outer `withMetrics` around a framework using its middleware). */
export function collectorOf(res: AnyResponse): Collector | undefined {
  return (res as Measured)[kCollector]
}

/**
 * Reads the options once and has the pipeline built for them (`createMeter`); what stays here is the
 * request side: when a request is measured and when its response has ended. Throws `TypeError` on bad options.
 *
 * @example
 * const recorder = createRecorder({ sink: memorySink() })
 */
export function createRecorder(options?: MetricsOptions): Recorder {
  const resolved = resolveOptions(options)
  if (!resolved.enabled) return { enabled: false, clock: offClock, begin: () => undefined, answered: () => {} }

  const meter = createMeter(resolved)
  const { clock, onError } = meter

  const defaults = resolved.dimensions as Record<string, string>
  // Per recorder (two wrappers may serve requests of one connection, and each must end its own responses), kept
  // in WeakMaps rather than on Node's socket objects: a property of ours on every socket gives them a second
  // hidden class, which Node's own code then meets on every access.
  /**
   * Per connection, the last response given its socket at `begin`, until that response ends (see `watch`). A box
   * rather than the response itself, so that ending it lets the response go: an idle keep-alive connection held
   * its last request and response, and whatever the app had hung on them (40 idle connections, each after a
   * request carrying 2 MB: 86 MB of heap against 6 MB bare). Its presence says the socket's 'close' listener is on.
   */
  const attached = new WeakMap<Connection, ConnectionSlot>()
  /** Responses queued behind another on a pipelining connection. */
  const queued = new WeakMap<Connection, Set<Measured>>()
  const exclude = resolved.exclude

  // Runs inside the response's event emission, so nothing may escape it.
  function end(res: Measured, aborted: boolean): void {
    try {
      close(res, aborted)
    } catch (error) {
      countDrop('sink')
      report(onError, error)
    }
  }
  function close(res: Measured, aborted: boolean): void {
    const c = res[kCollector]
    if (c === undefined || c.closed) return
    c.closed = true
    c.end = performance.now()
    clock.close(c)
    c.aborted = aborted
    c.status = aborted && !res.headersSent ? 0 : res.statusCode
    const req = c.req as RoutedRequest
    c.req = null
    c.res = null
    if (c.queued) queued.get(connectionOf(req)!)?.delete(res)
    else if (c.connectionSlot?.res === res) c.connectionSlot.res = null
    c.connectionSlot = null
    // Express sets `req.route` on the raw request when a route handled it; reading it here gives withMetrics
    // route templates on Express without the middleware.
    if (c.template === undefined && req.route !== undefined && typeof req.route?.path === 'string') {
      const base = req.baseUrl ?? ''
      // Under mounted routers, baseUrl is the matched path: the mount patterns are looked up instead (a
      // WeakMap lookup and a string compare, or the mounts' own matchers when they have parameters).
      const full = base === '' ? undefined : mountTemplate(req.app, req.route, req.route.path, base)
      if (full !== undefined) {
        c.template = full
      } else {
        c.template = req.route.path
        c.templateBase = base
      }
    }
    meter.record(c)
  }
  // One pair of handlers per wrapper, shared by every request: no closure is created per request.
  function onFinish(this: Measured): void {
    // The HTTP/2 compatibility API emits 'finish' also for a stream the client reset: look at the stream.
    const stream = (this as { stream?: { rstCode?: number } }).stream
    end(this, stream !== undefined && (!this.writableEnded || (stream.rstCode !== undefined && stream.rstCode !== 0)))
  }
  function onClose(this: Measured): void {
    endUnlessFinished(this)
  }
  // Two cases where a response hears neither 'finish' nor 'close' when its connection goes, both ended by the
  // socket's own 'close' (one listener per connection, registered with its first response):
  // - A pipelined response still queued behind another (30 pipelined requests, client gone after 50 ms: 30
  //   listener calls, 1 record): kept in a Set per connection while queued (`res.socket` still null).
  // - A response whose socket the app took with `res.detachSocket()`: Node's own close listener goes with it.
  //   The last response given the socket is remembered per connection, until it ends (a WeakMap lookup per request).
  // Tracking every response in the Set, under a symbol on the socket, cost two Set operations and two symbol
  // lookups per request, 0.6 % of the bench's json route in a profile.
  /** Ends `res`'s measurement as it stands: aborted unless every byte of it was handed to the socket. */
  function endUnlessFinished(res: Measured): void {
    end(res, (res as { writableFinished?: boolean }).writableFinished !== true)
  }
  function onConnectionClose(this: Connection): void {
    const last = attached.get(this)?.res
    if (last != null) endUnlessFinished(last)
    const open = queued.get(this)
    if (open === undefined) return
    for (const res of open) endUnlessFinished(res)
    open.clear()
  }
  /**
   * Has `res` ended by its connection's 'close' should it hear neither 'finish' nor 'close' itself. True when
   * that is all `res` needs: on a real socket, an HTTP/1 response that does not finish ends with its socket (a
   * client hanging up, a timeout, `res.destroy()`, which destroys the socket; Node emits the response's 'close'
   * from the socket's), so a 'close' listener per response would cost every request a registration and a call
   * for nothing (≈ 1,300 instructions a request on Node 24's tiny route, `bench/instructions.mjs`). A queued
   * pipelined response keeps its own listener: it can be destroyed while its connection lives on.
   */
  function watch(socket: Connection | null | undefined, res: Measured, c: Collector): boolean {
    if (socket == null || typeof socket.once !== 'function') return false // a mock request (inject helpers) has no socket
    let last = attached.get(socket)
    if (last === undefined) {
      socket.once('close', onConnectionClose)
      attached.set(socket, last = { res: null })
    }
    if ((res as ServerResponse).socket !== null) {
      last.res = res
      c.connectionSlot = last
      return socket instanceof Socket
    }
    let open = queued.get(socket)
    if (open === undefined) queued.set(socket, open = new Set())
    open.add(res)
    c.queued = true
    return false
  }

  function begin(req: AnyRequest, res: AnyResponse): Collector | undefined {
    const measured = res as Measured
    if (measured[kCollector] !== undefined) return undefined
    if (exclude !== undefined && isExcluded(exclude, req, onError)) return undefined
    const c = new Collector(clock, req, req.url ?? '/', req.method ?? 'GET', defaults, performance.now())
    measured[kCollector] = c
    c.res = measured
    res.on('finish', onFinish)
    // HTTP/2 streams always emit 'close' (and their `req.socket` is a proxy built on first read).
    if (req.httpVersionMajor === 2 || !watch(connectionOf(req), measured, c)) res.on('close', onClose)
    return c
  }

  return {
    enabled: true,
    clock,
    begin,
    answered(req, res, route) {
      const c = begin(req, res)
      if (c === undefined) return
      c.explicitRoute = route
      // Its 'finish' may be behind it already (an end() whose bytes the socket took at once): then nothing calls us.
      if ((res as { writableFinished?: boolean }).writableFinished === true) endUnlessFinished(res as Measured)
    },
  }
}

/** The request's socket, typed for the open-response set kept on it. */
function connectionOf(req: AnyRequest): Connection | null | undefined {
  return (req as { socket?: unknown }).socket as Connection | null | undefined
}

/** The app's `exclude` predicate, which must not break the request when it throws: then the request is measured. */
function isExcluded(exclude: (req: AnyRequest) => boolean, req: AnyRequest, onError: (error: Error) => void): boolean {
  try {
    return exclude(req) === true
  } catch (error) {
    report(onError, error)
    return false
  }
}
