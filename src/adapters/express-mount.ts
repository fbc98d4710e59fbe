/*
 * Express (router 2.x) keeps in `req.baseUrl` the path its mounts matched (`/api/users/alice/posts`), not
 * the patterns they were mounted at (`/api/users/:id/posts`), so a mount's parameters would be named by the
 * id heuristic, which keeps words (`alice`). This recovers the patterns when the response ends:
 *
 *   req.route ─► cached per app and route: every chain of `use(path, router)` layers from req.app's router down to
 *                the layer holding that route (found once, by walking the router tree)
 *             ─► the chain the request came through: the one whose joined pattern equals req.baseUrl
 *                (a string compare when the chain has no parameter), else whose layers' own matchers
 *                consume req.baseUrl exactly (Express' matching, case and trailing slash rules included)
 *             ─► its patterns + req.route.path, a full template (`/api/users/:id/posts/:postId`)
 *
 * Nothing is added to Express' own routing. router 2.3 keeps each layer's pattern (`layer.rawPath`); router
 * 2.2 keeps only the matchers, so there the pattern is rebuilt from the match (each parameter's value
 * replaced by `:name`). A RegExp mount, a sub-app (`app.use(path, otherApp)`) or a router called by hand has
 * no recoverable pattern: those fall back to naming `req.baseUrl` by the heuristic, as before.
 */

type Match = false | { path: string, params: Record<string, unknown> }
type Matcher = (path: string) => Match

/** What the walk reads of a router 2.x layer. */
interface LayerLike {
  route?: unknown
  handle?: unknown
  rawPath?: unknown
  matchers?: unknown
  slash?: boolean
}

/** One mount on a chain. `pattern` is `undefined` when the router kept none (router 2.2). */
interface Piece {
  readonly pattern: string | undefined
  readonly matcher: Matcher | undefined
}

interface Candidate {
  readonly pieces: readonly Piece[]
  /** The joined patterns when every piece has one and none has a parameter: compared with baseUrl as is. */
  readonly base: string | undefined
  /** The full template when every piece has a pattern (router 2.3), built once. */
  readonly template: string | undefined
}

interface Entry {
  candidates: readonly Candidate[]
  /** The tree is walked again once, on the first request no chain explains (a mount added after startup). */
  rewalked: boolean
}

// A router can be mounted inside itself, and one router at several paths multiplies chains: both bounded.
const MAX_DEPTH = 8
const MAX_CANDIDATES = 32

// Per app, then per route: one router shared by two apps (a public and an admin server) has a chain set in
// each, and a single entry per route that followed the last app re-walked the tree on every request.
const entries = new WeakMap<object, WeakMap<object, Entry>>()

/**
 * The full route template of an Express request served under mounted routers (`/api/users/:id/posts` +
 * `/:postId`), or `undefined` when the mount patterns cannot be recovered (the caller then names
 * `baseUrl` by the heuristic). Never throws.
 *
 * @example
 * mountTemplate(req.app, req.route, '/:postId', '/api/users/alice/posts') // '/api/users/:id/posts/:postId'
 */
export function mountTemplate(app: unknown, route: object, routePath: string, baseUrl: string): string | undefined {
  if (app === null || typeof app !== 'object' && typeof app !== 'function') return undefined
  try {
    let routes = entries.get(app as object)
    if (routes === undefined) entries.set(app as object, (routes = new WeakMap()))
    let entry = routes.get(route)
    if (entry === undefined) {
      entry = { candidates: walk(app, route, routePath), rewalked: false }
      routes.set(route, entry)
    }
    let template = choose(entry.candidates, baseUrl, routePath)
    if (template === undefined && !entry.rewalked) {
      entry.rewalked = true
      entry.candidates = walk(app, route, routePath)
      template = choose(entry.candidates, baseUrl, routePath)
    }
    return template
  } catch {
    // Not Express 5's router (Express 4's `app.router` getter throws, for one): the heuristic names it.
    return undefined
  }
}

/** The full template of the chain the request came through, or undefined. */
function choose(candidates: readonly Candidate[], baseUrl: string, routePath: string): string | undefined {
  for (const candidate of candidates) {
    if (candidate.base === baseUrl) return candidate.template
  }
  for (const candidate of candidates) {
    const base = consume(candidate.pieces, baseUrl, candidate.template === undefined)
    if (base !== undefined) return candidate.template ?? base + routePath
  }
  return undefined
}

/**
 * Runs the chain's own matchers over `baseUrl` as the router did (each mount strips what it matched). When
 * they consume it exactly: the joined patterns if `rebuild` (router 2.2), else ''. Otherwise undefined.
 */
function consume(pieces: readonly Piece[], baseUrl: string, rebuild: boolean): string | undefined {
  let rest = baseUrl
  let base = ''
  for (const piece of pieces) {
    if (piece.matcher === undefined) continue // app.use(router): matches without consuming
    const match = piece.matcher(rest)
    if (match === false) return undefined
    if (rebuild) base += trimSlash(piece.pattern ?? patternOf(match))
    rest = rest.slice(match.path.length)
  }
  return rest === '' || rest === '/' ? base : undefined
}

/** Every chain of router mounts from `app`'s router to the layer of `route`. */
function walk(app: unknown, route: object, routePath: string): Candidate[] {
  const router = (app as { router?: { stack?: unknown } }).router
  const chains: Piece[][] = []
  collect(router?.stack, route, [], chains, 0)
  return chains.map((pieces) => {
    const all = pieces.every((piece) => piece.pattern !== undefined)
    return {
      pieces,
      base: all && pieces.every((piece) => !/[:*?(){}]/.test(piece.pattern!)) ? joined(pieces) : undefined,
      template: all ? joined(pieces) + routePath : undefined,
    }
  })
}

function collect(stack: unknown, route: object, chain: Piece[], out: Piece[][], depth: number): void {
  if (!Array.isArray(stack)) return
  for (const layer of stack as LayerLike[]) {
    if (out.length >= MAX_CANDIDATES) return
    if (layer.route === route) {
      out.push(chain)
      continue
    }
    if (layer.route !== undefined || depth >= MAX_DEPTH) continue
    // A mounted router is a function carrying its own layer stack.
    const handle = layer.handle
    if (typeof handle !== 'function') continue
    const inner = (handle as { stack?: unknown }).stack
    if (!Array.isArray(inner)) continue
    if (layer.slash === true) {
      collect(inner, route, [...chain, { pattern: '', matcher: undefined }], out, depth + 1)
      continue
    }
    const matchers = Array.isArray(layer.matchers) ? (layer.matchers as unknown[]) : []
    const raw = layer.rawPath
    for (let i = 0; i < matchers.length; i++) {
      const path: unknown = Array.isArray(raw) ? (raw as unknown[])[i] : raw
      const matcher = matchers[i]
      // A RegExp mount has no pattern to name it by: chains through it are left out (the heuristic names them).
      if (typeof matcher !== 'function' || path !== undefined && typeof path !== 'string') continue
      const pattern = path
      collect(inner, route, [...chain, { pattern, matcher: matcher as Matcher }], out, depth + 1)
    }
  }
}

function joined(chain: readonly Piece[]): string {
  let base = ''
  for (const piece of chain) base += trimSlash(piece.pattern!)
  return base
}

function trimSlash(pattern: string): string {
  let end = pattern.length
  while (end > 0 && pattern.charCodeAt(end - 1) === 47 /* / */) end--
  return end === pattern.length ? pattern : pattern.slice(0, end)
}

/** router 2.2: a mount's pattern from what it matched, each parameter's value (left to right) as `:name`. */
function patternOf(match: Exclude<Match, false>): string {
  const names = Object.keys(match.params)
  if (names.length === 0) return match.path
  const segments = match.path.split('/')
  let next = 0
  for (let s = 0; s < segments.length && next < names.length; s++) {
    const value = match.params[names[next]!]
    if (typeof value === 'string' && (segments[s] === value || decoded(segments[s]!) === value)) {
      segments[s] = `:${names[next]!}`
      next++
    }
  }
  return segments.join('/')
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}
