/**
 * A bounded model of the paths an app serves, learned from its traffic: which positions of a path hold
 * route words and which hold values (parameters). It names a path the way a router template would, with
 * every value as `id`, even when the values are plain words that no per-segment shape rule can tell from a
 * route word (`/api/v1/namespaces/kube-system/pods` → `api.v1.namespaces.id.pods`).
 *
 *   path tokens (normalizePath's segments: `id` for shaped ids, else the sanitized word)
 *     ─▶ walk a trie from the root: a shaped `id`, or any word at a learned position, goes to the
 *        position's parameter child and names `id`; a word goes to (or makes) its word child
 *     ─▶ a new word re-checks the two rules below at its position and its parent's; a rule that fires
 *        collapses the position: its word children merge into its parameter child, the walk restarts
 *
 * A position (the children of one node) becomes a parameter when either
 * - **shared continuations**: its children are followed by the same words. Values of a parameter lead to
 *   the same few route words (`default/pods`, `kube-system/pods`, `monitoring/pods`), while route words
 *   lead each to their own values or ids (`pods/<name>`, `services/<name>`). It fires when the children
 *   are at least {@link SHARED_MIN_CHILDREN}, the (child, next word) pairs at least {@link SHARED_MIN_PAIRS},
 *   and each next word follows {@link SHARED_RATIO} children on average. Version words (`v1`, `v2beta1`) do
 *   not count: unrelated API groups share them (`/apis/apps/v1`, `/apis/batch/v1`);
 * - **leaf values**: at least {@link LEAF_VALUES} word children under a word (not under a value: after
 *   `/merge_requests/{iid}/` come route words such as `approve`, `changes`), none of which leads anywhere
 *   of its own (no id after it, no next word that no sibling shares) (`/nodes/worker-1`, `/nodes/minikube`);
 * - or it holds {@link MAX_WORDS} distinct words (no real API has that many route words in one place).
 *
 * Bounded: at most `maxNodes` nodes ({@link DEFAULT_MAX_NODES}); past it, new words are named by their
 * shape alone and not learned. Deterministic: the same sequence of paths gives the same model and names
 * (Maps iterate in insertion order; nothing is random or timed). Never throws on any token list.
 */

/** Distinct word children, with every next word shared, that make a position a parameter (see the rules). */
export const SHARED_MIN_CHILDREN = 3
/** (child, next word) pairs needed before the shared-continuation rule judges a position. */
export const SHARED_MIN_PAIRS = 6
/** Children each next word must follow on average for the shared-continuation rule. */
export const SHARED_RATIO = 2
/** Word children, all leaves, that make a position under a word a parameter. */
export const LEAF_VALUES = 4
/** The same where shaped ids were already seen: the ids show it holds values. */
export const LEAF_VALUES_BESIDE_IDS = 3
/** Requests a word needs before a position is learned to stay a route word beside the parameter. */
export const KEEP_HITS = 2
/** Distinct words at one position past which it is a parameter whatever the rules say. */
export const MAX_WORDS = 256
/** Default cap on the model's nodes (about 150 bytes each, see bench/namer-cost.mjs). */
export const DEFAULT_MAX_NODES = 20_000

const ID = 'id'
const OVERFLOW = '_'
// `v1`, `v2beta1`, `v1alpha3`: API versions, shared by unrelated groups.
const VERSION = /^v\d+(?:(?:alpha|beta)\d*)?$/

interface Node {
  parent: Node | null
  /** Word children; null until the first one (most nodes are leaves). */
  words: Map<string, Node> | null
  /** The parameter child: shaped ids and, once learned, every value. */
  param: Node | null
  /** True once the position is learned as a parameter: every word here names `id`. */
  learned: boolean
  /**
   * Over this node's children (words and parameter): per next word, how many children it follows. Kept so
   * the shared-continuation rule costs one look, not a walk.
   */
  next: Map<string, number> | null
  /** Sum of `next`'s counts, version words excluded. */
  pairs: number
  /** Requests that went through this node (to keep route words beside a parameter, see `learn`). */
  hits: number
}

function newNode(parent: Node | null): Node {
  return { parent, words: null, param: null, learned: false, next: null, pairs: 0, hits: 0 }
}

/** A learned model of route templates. */
export interface RouteModel {
  /** Learns from `tokens` (one request) and returns its name. */
  name(tokens: readonly string[]): string
  /** The name a path named `name` earlier gets now, without learning: stale names differ. */
  rename(name: string): string
  /** Bumped on every learning event; names given under an older version may be stale. */
  readonly version: number
  /** Nodes held. */
  readonly size: number
}

/**
 * Builds an empty model.
 *
 * @example
 * const model = createRouteModel()
 * for (const ns of ['default', 'kube-system', 'monitoring']) model.name(['api', 'v1', 'namespaces', ns, 'pods'])
 * model.name(['api', 'v1', 'namespaces', 'team-a', 'pods']) // 'api.v1.namespaces.id.pods'
 */
export function createRouteModel(options: { maxNodes?: number } = {}): RouteModel {
  const maxNodes = options.maxNodes ?? DEFAULT_MAX_NODES
  const root = newNode(null)
  let size = 1
  let version = 0

  function addNext(node: Node | null, word: string, delta: number): void {
    if (node === null || VERSION.test(word)) return
    const next = node.next ?? (node.next = new Map())
    const count = (next.get(word) ?? 0) + delta
    if (count > 0) next.set(word, count)
    else next.delete(word)
    node.pairs += delta
  }

  /** Word children that are not versions (versions never become values). */
  function candidates(node: Node): number {
    let n = 0
    if (node.words !== null) for (const word of node.words.keys()) if (!VERSION.test(word)) n++
    return n
  }

  /** The shared-continuation rule at `node` (over its children). */
  function sharesContinuations(node: Node): boolean {
    if (node.pairs < SHARED_MIN_PAIRS || node.next === null || node.pairs < SHARED_RATIO * node.next.size) return false
    return candidates(node) + (node.param === null ? 0 : 1) >= SHARED_MIN_CHILDREN
  }

  /** True when a next word of `child` (a child of `node`) also follows another child of `node`. */
  function sharesNext(node: Node, child: Node): boolean {
    if (child.words === null) return false
    for (const word of child.words.keys()) if ((node.next?.get(word) ?? 0) >= 2) return true
    return false
  }

  /** The leaf-values rule at `node`, whose incoming edge is a word. */
  function holdsLeafValues(node: Node): boolean {
    const words = node.words
    if (words === null || candidates(node) < (node.param === null ? LEAF_VALUES : LEAF_VALUES_BESIDE_IDS)) return false
    for (const [word, child] of words) {
      if (VERSION.test(word)) continue
      if (child.param !== null) return false
      if (child.words === null) continue
      for (const next of child.words.keys()) if (VERSION.test(next) || (node.next?.get(next) ?? 0) < 2) return false
    }
    return true
  }

  /** Runs the rules at `node`; true when it was learned (the model changed). */
  function judge(node: Node): boolean {
    if (node.learned || node.words === null) return false
    if (node.words.size >= MAX_WORDS || sharesContinuations(node)) {
      learn(node, true)
      return true
    }
    if (node.parent !== null && node.parent.param !== node && holdsLeafValues(node)) {
      // Pure leaves (`/leases/<node>`): keep nothing. Leaves beside values with shared continuations
      // (`/users/search` beside `/users/<login>/repos`): the same evidence as the shared-continuation rule.
      learn(node, node.pairs > 0)
      return true
    }
    return false
  }

  /**
   * Makes `node` a parameter position: its word children merge into its parameter child, except versions
   * and, when `keepWords` (the shared-continuation rule), route words beside the parameter: words seen in
   * {@link KEEP_HITS}+ requests that share no next word with a sibling (`/customers/search` beside
   * `/customers/{id}/…`). Under the leaf-values rule over pure leaves nothing but versions is kept: there a
   * hot value (the node a lease renewal names every 10 s) looks exactly like a route word.
   */
  function learn(node: Node, keepWords: boolean): void {
    version++
    node.learned = true
    const words = node.words
    if (words === null) return
    let kept: Map<string, Node> | null = null
    const values: Node[] = []
    for (const [word, child] of words) {
      if (VERSION.test(word) || (keepWords && child.hits >= KEEP_HITS && !sharesNext(node, child))) {
        if (kept === null) kept = new Map()
        kept.set(word, child)
      } else {
        values.push(child)
        // The parent counted this word as a continuation of `node`; it is a value now.
        addNext(node.parent, word, -1)
      }
    }
    node.words = kept
    let param = node.param
    if (param === null) {
      param = node.param = newNode(node)
      size++
    }
    for (const child of values) merge(param, child)
    recount(node)
    judge(param)
  }

  /** Moves the word child `word` of `node` into its parameter child: it is used like the values there. */
  function demote(node: Node, word: string, child: Node): void {
    version++
    node.words!.delete(word)
    if (node.words!.size === 0) node.words = null
    addNext(node.parent, word, -1)
    merge(node.param!, child)
  }

  /** Moves `from`'s subtree into `into` (both at the same position), dropping `from`. */
  function merge(into: Node, from: Node): void {
    size--
    into.hits += from.hits
    if (from.param !== null) {
      if (into.param === null) {
        into.param = from.param
        from.param.parent = into
      } else merge(into.param, from.param)
    }
    if (from.words !== null) {
      for (const [word, child] of from.words) {
        const same = into.words?.get(word)
        if (same !== undefined) merge(same, child)
        else if (into.learned && !VERSION.test(word)) {
          if (into.param === null) {
            into.param = newNode(into)
            size++
          }
          merge(into.param, child)
        } else {
          if (into.words === null) into.words = new Map()
          into.words.set(word, child)
          child.parent = into
        }
      }
    }
    recount(into)
    if (into.parent !== null) recount(into.parent)
    judge(into)
  }

  /** Recomputes `node.next` and `node.pairs` from its children. */
  function recount(node: Node): void {
    node.next = null
    node.pairs = 0
    if (node.words !== null) for (const child of node.words.values()) countChild(node, child)
    if (node.param !== null) countChild(node, node.param)
  }

  function countChild(node: Node, child: Node): void {
    if (child.words !== null) for (const word of child.words.keys()) addNext(node, word, 1)
  }

  /**
   * Adds the word child `word` under `node` (null past the node cap) and runs the rules it may tip. True
   * in `changed` when the model changed, so the walk starts over.
   */
  function addWord(node: Node, word: string): Node | null {
    if (size >= maxNodes) return null
    const child = newNode(node)
    size++
    if (node.words === null) node.words = new Map()
    node.words.set(word, child)
    const parent = node.parent
    addNext(parent, word, 1)
    if (parent === null || VERSION.test(word)) return child
    // A word followed by what follows the values beside it is one of them (`/groups/acme/projects` next to
    // `/groups/42/projects`): demote it now rather than wait for a position-wide rule.
    if (parent.param === node) {
      if (parent.words !== null) {
        for (const [sibling, other] of parent.words) {
          if (!VERSION.test(sibling) && other.words?.has(word) === true) {
            demote(parent, sibling, other)
            break
          }
        }
      }
    } else if (parent.param !== null && parent.param.words?.has(word) === true) {
      const own = parent.words === null ? undefined : keyOf(parent.words, node)
      if (own !== undefined && !VERSION.test(own)) demote(parent, own, node)
    }
    return child
  }

  /** A new word that the values here are seen followed by (`/groups/acme/projects` after `/groups/42/projects`). */
  function followsLikeValues(node: Node, token: string, next: string | undefined): boolean {
    return next !== undefined && node.param?.words?.has(next) === true && !VERSION.test(next) && !VERSION.test(token)
  }

  function keyOf(words: Map<string, Node>, node: Node): string | undefined {
    for (const [word, child] of words) if (child === node) return word
    return undefined
  }

  function walk(tokens: readonly string[], out: string[]): boolean {
    let node: Node | null = root
    const before = version
    for (let k = 0; k < tokens.length; k++) {
      const token = tokens[k]!
      if (token === OVERFLOW && k === tokens.length - 1) {
        out.push(token)
        break
      }
      if (node === null) {
        out.push(token)
        continue
      }
      let child: Node | null | undefined = token === ID ? undefined : node.words?.get(token)
      if (child === undefined && (token === ID || node.learned || followsLikeValues(node, token, tokens[k + 1]))) {
        if (node.param === null && size < maxNodes) {
          node.param = newNode(node)
          size++
        }
        out.push(ID)
        node = node.param
        if (node !== null) node.hits++
        continue
      }
      if (child === undefined) {
        child = addWord(node, token)
        if (before !== version) return true
        // The new word may tip this position (leaf values, the word cap) or the parent's (shared continuations).
        if (child !== null && ((node.parent !== null && judge(node.parent)) || judge(node))) return true
      }
      out.push(token)
      node = child
      if (node !== null) node.hits++
    }
    return before !== version
  }

  return {
    name(tokens) {
      try {
        const out: string[] = []
        // A learning event during the walk changes what the earlier segments are: walk again. Each event
        // removes word nodes for good, so this ends.
        for (let round = 0; walk(tokens, out); round++) {
          out.length = 0
          // Never seen; a guard so that a rule bug costs a shape-only name, not a hang.
          if (round === 16) return tokens.length === 0 ? 'root' : tokens.join('.')
        }
        return out.length === 0 ? 'root' : out.join('.')
      } catch {
        return tokens.length === 0 ? 'root' : tokens.join('.')
      }
    },
    rename(name) {
      if (name === 'root') return name
      const tokens = name.split('.')
      const out: string[] = []
      let node: Node | null = root
      for (const token of tokens) {
        if (node === null || token === OVERFLOW) {
          out.push(token)
          continue
        }
        const child = token === ID ? undefined : node.words?.get(token)
        if (child === undefined && (token === ID || node.learned)) {
          out.push(ID)
          node = node.param
          continue
        }
        out.push(token)
        node = child ?? null
      }
      return out.join('.')
    },
    get version() {
      return version
    },
    get size() {
      return size
    },
  }
}
