import type { AnyRequest } from './collect/collector.js'
import type { CpuMode } from './collect/cpu-clock.js'
import type { ErrorHandler, Sink } from './sinks/sink.js'
import { optionChecks, optionsObject } from './util/option-check.js'
import { pathOf } from './util/url-path.js'

/** Options shared by `withMetrics`, `koaMetrics` and `connectMetrics`. Every one is optional. */
export interface MetricsOptions {
  /** Where records go. Default: `statsdSink()` when `ROUTEMETER_STATSD` is set, else `redisSink()`. */
  sink?: Sink
  /** Namespace in front of every name (`shop` → `shop.users.id.RequestTime`). Default `ROUTEMETER_PREFIX`, else none. */
  prefix?: string
  /** Dimensions added to every request (`{ service: 'shop', env: 'prod' }`). */
  dimensions?: Record<string, string>
  /** path-to-regexp patterns naming paths no framework router names (`'/users/:id'` → `users.id`). */
  routes?: readonly string[]
  /** Distinct route names this wrapper admits; later new names become `other`. Default `ROUTEMETER_MAX_ROUTES`, else 1000. */
  maxRoutes?: number
  /**
   * Requests not to measure: an exact path (`'/health'`), a RegExp tested on the path, a list of those, or a
   * predicate on the request. Paths and RegExps see the path alone: no query string, no `#fragment`, and no
   * scheme and host of an absolute-form target (`GET http://shop.example/health` is `/health`).
   */
  exclude?: string | RegExp | readonly (string | RegExp)[] | ((req: AnyRequest) => boolean)
  /** How `CpuTime` is measured: `'attributed'` (default), `'window'`, or `false` (not at all). See the README. */
  cpu?: CpuMode
  /** `false` keeps the wrapper in place and records nothing. Default: not `ROUTEMETER_DISABLED`. */
  enabled?: boolean
  /** Receives errors that happen off the request path (sink failures). Default: one warning per kind. */
  onError?: ErrorHandler
  /** At most this many milliseconds from one flush to the next (a full batch flushes sooner). Default 1000. */
  flushInterval?: number
  /** Records that trigger a flush before the interval. Default 500. */
  batchSize?: number
  /** Records buffered while the sink is busy; past it the oldest are dropped and counted. Default 10,000. */
  maxBuffer?: number
}

/** Options after defaults and environment were applied and everything was checked. */
export interface ResolvedOptions {
  readonly sink: Sink | undefined
  readonly prefix: string
  readonly dimensions: Readonly<Record<string, string>>
  readonly routes: readonly string[]
  readonly maxRoutes: number
  readonly exclude: ((req: AnyRequest) => boolean) | undefined
  readonly cpu: CpuMode
  readonly enabled: boolean
  readonly onError: ErrorHandler | undefined
  readonly flushInterval: number
  readonly batchSize: number
  readonly maxBuffer: number
}

const KNOWN = new Set([
  'sink', 'prefix', 'dimensions', 'routes', 'maxRoutes', 'exclude', 'cpu', 'enabled', 'onError', 'flushInterval', 'batchSize', 'maxBuffer',
])

// Owner '': these options belong to every wrapper alike, so messages read `routemeter: option "maxRoutes" …`.
const check = optionChecks('')

function truthy(text: string | undefined): boolean {
  return text !== undefined && /^(1|true|yes|on)$/i.test(text.trim())
}

/**
 * Checks the options and fills what they leave out from the environment, then from defaults. Throws an
 * `OptionError` (a `TypeError`) that names the option and what it allows: bad configuration fails at startup,
 * never later.
 *
 * @example
 * resolveOptions({ maxRoutes: 200 }, process.env).maxRoutes // 200
 */
export function resolveOptions(options: MetricsOptions | undefined, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  const o = optionsObject('', options)
  for (const [key, value] of Object.entries(o)) {
    if (!KNOWN.has(key)) check.fail(key, `one of the known options (${[...KNOWN].join(', ')}); it is not an option`, value)
  }

  const sink = o.sink
  const isSink = sink !== null && typeof sink === 'object' &&
    typeof sink.send === 'function' && typeof sink.flush === 'function' && typeof sink.close === 'function'
  if (sink !== undefined && !isSink) {
    check.fail('sink', 'an object with send(batch), flush() and close() (memorySink(), statsdSink(), redisSink())', sink)
  }

  const prefix = o.prefix ?? env.ROUTEMETER_PREFIX ?? ''
  if (typeof prefix !== 'string' || prefix.length > 128 || /[\s:|@#,=]/.test(prefix)) {
    check.fail('prefix', 'a string of at most 128 characters without spaces or any of : | @ # , =', prefix)
  }

  const dimensions = o.dimensions ?? {}
  if (typeof dimensions !== 'object' || dimensions === null || Array.isArray(dimensions)) {
    check.fail('dimensions', 'an object of string values', dimensions)
  }
  for (const [key, value] of Object.entries(dimensions)) {
    if (key.length === 0 || key.length > 128 || typeof value !== 'string' || value.length === 0 || value.length > 256) {
      check.fail('dimensions', 'an object whose keys and values are non-empty strings (keys ≤ 128, values ≤ 256 characters)', dimensions)
    }
  }

  const routes = o.routes ?? []
  if (!Array.isArray(routes) || routes.some((r) => typeof r !== 'string' || !r.startsWith('/'))) {
    check.fail('routes', "an array of path-to-regexp patterns starting with '/' (e.g. ['/users/:id'])", routes)
  }

  const maxRoutes = check.integer('maxRoutes', o.maxRoutes ?? env.ROUTEMETER_MAX_ROUTES, 1000, 1, 1_000_000)
  const cpuFromEnv = env.ROUTEMETER_CPU === 'false' ? false : env.ROUTEMETER_CPU
  const cpu = check.oneOf<CpuMode>('cpu', o.cpu ?? cpuFromEnv, 'attributed', ['attributed', 'window', false])
  const enabled = check.boolean('enabled', o.enabled, !truthy(env.ROUTEMETER_DISABLED))
  const onError = check.func<ErrorHandler>('onError', o.onError, 'a function (error) => void')
  const batchSize = check.integer('batchSize', o.batchSize, 500, 1, 100_000)
  const maxBuffer = check.integer('maxBuffer', o.maxBuffer, 10_000, 1, 10_000_000)
  if (maxBuffer < batchSize) check.fail('maxBuffer', `at least batchSize (${batchSize})`, maxBuffer)

  return {
    sink,
    prefix,
    dimensions: Object.freeze({ ...dimensions }),
    routes: [...routes],
    maxRoutes,
    exclude: compileExclude(o.exclude),
    cpu,
    enabled,
    onError,
    flushInterval: check.integer('flushInterval', o.flushInterval, 1000, 10, 3_600_000),
    batchSize,
    maxBuffer,
  }
}

function compileExclude(exclude: MetricsOptions['exclude']): ((req: AnyRequest) => boolean) | undefined {
  if (exclude === undefined) return undefined
  if (typeof exclude === 'function') return exclude
  const allowed = 'a path (a string starting with /), a RegExp, an array of those, or a function (req) => boolean'
  const entries: readonly unknown[] = typeof exclude === 'string' || exclude instanceof RegExp ? [exclude] : exclude
  if (!Array.isArray(entries)) check.fail('exclude', allowed, exclude)
  const paths = new Set<string>()
  const patterns: RegExp[] = []
  for (const entry of entries) {
    if (typeof entry === 'string' && entry.startsWith('/')) paths.add(entry)
    // A copy without the g and y flags: those make test() stateful (lastIndex), skipping every other match.
    else if (entry instanceof RegExp) patterns.push(new RegExp(entry.source, entry.flags.replace(/[gy]/g, '')))
    else check.fail('exclude', allowed, exclude)
  }
  if (paths.size === 0 && patterns.length === 0) return undefined
  return (req) => {
    // The path as the route namer reads it: no query, no fragment, no scheme and host of an absolute-form target.
    const path = pathOf(req.url ?? '/')
    if (paths.has(path)) return true
    for (const pattern of patterns) if (pattern.test(path)) return true
    return false
  }
}
