import { match, type MatchFunction } from 'path-to-regexp'
import { countDrop } from '../util/drops.js'
import { warnOnce } from '../util/warn.js'
import type { Collector } from './collector.js'
import { normalizePath, pathTokens } from './normalize-path.js'
import { createRouteModel, type RouteModel } from './route-model.js'
import { OptionError } from '../util/option-check.js'
import { pathOf } from '../util/url-path.js'

/** Name of requests past the `maxRoutes` budget. */
export const OVERFLOW_ROUTE = 'other'
/** Name of 404/405 responses no template, pattern or explicit name claimed: scanners cannot mint names. */
export const UNMATCHED_ROUTE = 'unmatched'

// Entries in each name cache: raw paths whose name has no `id` (the others are not cached at all: see
// fromPath), framework templates, mount bases and explicit names, each → its name. Bounded and simply cleared
// when full: an LRU would cost a delete+set on every hit, and a clear costs one miss per entry.
const PATH_CACHE_SIZE = 10_000
// Keys longer than this are not cached: a cache bounded by entries alone held 10,000 paths of 15 KB each (Node takes
// request targets up to its 16 KB header limit), 151 MB, from one client's distinct long paths. Real route paths
// are shorter; a longer one is named again each time.
const MAX_CACHED_KEY_LENGTH = 256
// Admitted names re-checked per call at most while the route budget is full (see `sweep`).
const SWEEP_STEP = 64

interface Resolved {
  readonly name: string
  /** True when a declared `routes` pattern produced the name (kept even on 404/405). */
  readonly declared: boolean
}

/**
 * Resolves a closed request's route name: explicit → template → `routes` pattern → learned model (or the
 * heuristic alone), then the budget.
 */
export interface RouteNamer {
  name(c: Collector): string
}

/** Options of {@link createRouteNamer}. */
export interface RouteNamerOptions {
  routes: readonly string[]
  maxRoutes: number
  /**
   * Learn route templates from the traffic (default `true`): see `route-model.ts`. `false` names unclaimed
   * paths with `normalizePath` alone, as 0.1.0 did.
   */
  learn?: boolean
  /** Cap on the learned model's nodes (default `DEFAULT_MAX_NODES`). */
  maxModelNodes?: number
}

/**
 * Builds a namer. Patterns are compiled here, once. At flush, naming costs a map lookup (two with a mount
 * base) for an explicit name or framework template seen before. A raw path goes to the learned model, whose
 * walk over a path it has nothing to learn from reads each segment once, tests the shape only where the
 * model has not learned that values go, and returns the name kept on the model's node: 586 ns a request
 * against 1,217 for tokens, walk and join (`node --expose-gc bench/namer-cost.mjs`, Node 20.20; 545 against
 * 1,133 on Node 24.22). With declared `routes` or `learn: false`, raw paths whose name has no `id`
 * (`/health`, `/pages/about`) are also cached, since the patterns (or the shape rules) are the dear part there.
 *
 * @example
 * const namer = createRouteNamer({ routes: ['/users/:id'], maxRoutes: 1000 })
 */
export function createRouteNamer(options: RouteNamerOptions): RouteNamer {
  const patterns = options.routes.map(compilePattern)
  const maxRoutes = options.maxRoutes
  const model: RouteModel | null = options.learn === false
    ? null
    : createRouteModel(options.maxModelNodes === undefined ? {} : { maxNodes: options.maxModelNodes })
  const admitted = new Set<string>()
  // Admitted names the model gave: when the budget is full they are re-checked, and those the model now
  // names differently (minted before their position was learned) give their place back.
  const learned = new Set<string>()
  let sweptAt = 0
  /** Where the sweep in progress is in `learned` (see `sweep`); undefined between sweeps. */
  let sweeping: Iterator<string> | undefined
  const pathCache = new Map<string, Resolved>()
  const templateCache = new Map<string, string>()
  const explicitCache = new Map<string, string>()
  const baseCache = new Map<string, string>()

  // A sweep re-checks names until one gives its place back, at most SWEEP_STEP per call, going on where it left
  // off, until it has seen every one. Done whole, every new name after a learning event cost a rename of each
  // admitted one: with the budget full, a scanner whose paths taught the model something every 4 requests cost
  // 80 µs a request (12 with an unbounded budget).
  function sweep(): void {
    if (model === null) return
    if (sweeping === undefined) {
      if (sweptAt === model.version) return
      sweptAt = model.version
      sweeping = learned.values()
    }
    for (let n = 0; n < SWEEP_STEP; n++) {
      const next = sweeping.next()
      if (next.done === true) {
        sweeping = undefined
        return
      }
      // Deleting the name the iterator just gave is safe: a Set's iterator goes on from the next one.
      if (model.rename(next.value) !== next.value) {
        learned.delete(next.value)
        admitted.delete(next.value)
        return
      }
    }
  }

  function admit(name: string, fromModel = false): string {
    if (admitted.has(name)) return name
    if (admitted.size >= maxRoutes) sweep()
    if (admitted.size < maxRoutes) {
      admitted.add(name)
      if (fromModel) learned.add(name)
      return name
    }
    countDrop('route')
    warnOnce(
      'RM_ROUTE_BUDGET',
      `routemeter: more than ${maxRoutes} distinct route names (maxRoutes); further new names are recorded as "${OVERFLOW_ROUTE}". ` +
        'Declare patterns with the `routes` option or use a framework router',
    )
    return OVERFLOW_ROUTE
  }

  function cached(cache: Map<string, string>, key: string, separator: string): string {
    let name = cache.get(key)
    if (name === undefined) {
      name = templateToName(key, separator)
      if (cache.size >= PATH_CACHE_SIZE) cache.clear()
      cache.set(key, name)
    }
    return name
  }

  function fromTemplate(base: string, template: string): string {
    const name = cached(templateCache, template, '/')
    if (base === '') return name
    let baseName = baseCache.get(base)
    if (baseName === undefined) {
      baseName = normalizePath(base)
      if (base.length <= MAX_CACHED_KEY_LENGTH) {
        if (baseCache.size >= PATH_CACHE_SIZE) baseCache.clear()
        baseCache.set(base, baseName)
      }
    }
    if (name === 'root') return baseName
    return baseName === 'root' ? name : `${baseName}.${name}`
  }

  function fromPath(url: string, status: number): Resolved {
    const path = pathOf(url)
    let resolved = pathCache.get(path)
    if (resolved !== undefined) return resolved
    let valued = false
    for (const pattern of patterns) {
      if (pattern.test(path)) {
        resolved = { name: pattern.name, declared: true }
        valued = pattern.valued
        break
      }
    }
    if (resolved === undefined) {
      // Unclaimed 404s and 405s are `unmatched` and teach the model nothing: scanners cannot shape it.
      if (status === 404 || status === 405) return UNMATCHED
      if (model !== null) return { name: fromModel(model, path), declared: false }
      resolved = { name: normalizePath(path), declared: false }
    }
    // A path with an id in it is almost never seen twice (fresh ids per request), so caching it costs a
    // hash, a set and evictions for no hit (1.6% of the tiny route's CPU in a profile, when model names were
    // cached too). Only paths whose name kept every segment (`/pages/about`, `/health`) are cached; not those
    // a declared pattern with a parameter matched (`/users/:userId`: `users.userId`, a value in every path).
    if (!valued && !hasIdSegment(resolved.name) && path.length <= MAX_CACHED_KEY_LENGTH) {
      if (pathCache.size >= PATH_CACHE_SIZE) pathCache.clear()
      pathCache.set(path, resolved)
    }
    return resolved
  }

  // Without declared patterns a path is the model's alone: no cache to look in first. The model's own walk
  // of a known path costs about what a cache lookup of the whole path did, and, unlike a cache hit, it
  // counts the request at every word it passes, which the rule that keeps route words beside a parameter
  // reads (`/customers/search` seen twice stays a word).
  function fromModelOnly(model: RouteModel, url: string, status: number): string {
    if (status === 404 || status === 405) return UNMATCHED_ROUTE
    return admit(fromModel(model, pathOf(url)), true)
  }

  function fromPathOrPattern(url: string, status: number): string {
    const resolved = fromPath(url, status)
    if (resolved === UNMATCHED) return UNMATCHED_ROUTE
    return admit(resolved.name, !resolved.declared && model !== null)
  }

  const named = model !== null && patterns.length === 0
    ? (url: string, status: number) => fromModelOnly(model, url, status)
    : fromPathOrPattern

  return {
    name(c) {
      if (c.explicitRoute !== undefined) return admit(cached(explicitCache, c.explicitRoute, '.'))
      if (c.template !== undefined) return admit(fromTemplate(c.templateBase, c.template))
      return named(c.url, c.status)
    },
  }
}

const UNMATCHED: Resolved = { name: UNMATCHED_ROUTE, declared: false }

/** The model's name for `path`: its walk over the raw path when it has nothing to learn, else the full one. */
function fromModel(model: RouteModel, path: string): string {
  return model.nameSettled(path) ?? model.name(pathTokens(path))
}

function hasIdSegment(name: string): boolean {
  return name === 'id' || name.startsWith('id.') || name.endsWith('.id') || name.includes('.id.')
}

interface CompiledPattern {
  readonly name: string
  /** It has a parameter (`:id`, `*rest`): the paths it matches differ by a value. */
  readonly valued: boolean
  test(path: string): boolean
}

function compilePattern(pattern: string): CompiledPattern {
  let fn: MatchFunction<object>
  try {
    fn = match(pattern, { decode: false, end: true })
  } catch (error) {
    throw new OptionError('', 'routes', `has an invalid path-to-regexp pattern ${JSON.stringify(pattern)}: ${(error as Error).message}`)
  }
  return { name: templateToName(pattern), valued: /[:*]/.test(pattern), test: (path) => fn(path) !== false }
}

/**
 * A route template (`/users/:id/posts`, `/files/*path`, `/a{/:b}`) as a metric name (`users.id.posts`):
 * parameter markers and groups dropped, every character a backend could misread replaced with `_`.
 *
 * @example
 * templateToName('/api/users/:userId') // 'api.users.userId'
 * templateToName('/files/*') // 'files._'
 */
export function templateToName(template: string, separator = '/'): string {
  const parts: string[] = []
  for (const raw of template.split(separator === '/' ? /[/.]/ : '.')) {
    // A bare wildcard (Fastify's `/files/*`) stands for the rest of the path, like the `_` that ends a path cut
    // at its depth; dropped, `/files/*` and `/files` shared the name `files`.
    const segment = raw === '*' ? '_' : raw.replace(/[{}()?*+:]/g, '').replace(/[^A-Za-z0-9_-]/g, '_')
    if (segment.length > 0) parts.push(segment.length > 64 ? segment.slice(0, 64) : segment)
    if (parts.length >= 16) break
  }
  return parts.length === 0 ? 'root' : parts.join('.')
}
