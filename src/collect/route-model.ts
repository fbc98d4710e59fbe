import {
  holdsLeafValues, KEEP_HITS, leadsLike, MAX_WORDS, newNode, type Node, sharesContinuations, sharesNext, sharesSecondContinuations,
  VERSION,
} from './route-rules.js'
import { DEFAULT_MAX_NODES } from './route-rules.js'
import { walkSettled } from './route-walk.js'

const ID = 'id'
const OVERFLOW = '_'

/**
 * A bounded model of the paths an app serves, learned from its traffic: which positions of a path hold
 * route words and which hold values (parameters). It names a path the way a router template would, with
 * every value as `id`, even when the values are plain words that no per-segment shape rule can tell from a
 * route word (`/api/v1/namespaces/kube-system/pods` → `api.v1.namespaces.id.pods`).
 *
 *   path tokens (normalizePath's segments: `id` for shaped ids, else the sanitized word)
 *     ─▶ walk a trie from the root: a shaped `id`, a word at a learned position (unless kept beside the
 *        parameter), or a new word followed by what follows the ids there, goes to the position's parameter
 *        child and names `id`; any other word goes to (or makes) its word child
 *     ─▶ a new node re-checks the rules at its position, its parent's and its grandparent's; a rule that
 *        fires collapses the position (its word children merge into its parameter child) and the walk restarts
 *
 * A position (the children of one node) becomes a parameter when
 * - **shared continuations**: its children are followed by the same words. Values of a parameter lead to
 *   the same few route words (`default/pods`, `kube-system/pods`, `monitoring/pods`), while route words
 *   lead each to their own values or ids (`pods/<name>`, `services/<name>`). It fires when the children
 *   are at least {@link SHARED_MIN_CHILDREN}, the (child, next word) pairs at least {@link SHARED_MIN_PAIRS},
 *   each next word follows {@link SHARED_RATIO} children on average, and the children outnumber the next
 *   words (of two positions in a row, the parameter has more distinct entries). Right after a value it needs
 *   {@link SHARED_MIN_CHILDREN_AFTER_VALUE} children, twice the next words. Version words (`v1`, `v2beta1`)
 *   never count: unrelated API groups share them (`/apis/apps/v1`, `/apis/batch/v1`). The next words that
 *   fired the rule are **confirmed** route words: no rule takes them for values later (`pods`, `services`
 *   after a namespace, even while their object names repeat across kinds);
 * - **shared second continuations**: the same one level further, for two values in a row under a word
 *   (`/repos/{owner}/{repo}/issues`), when few words of the middle level follow more than one child;
 * - **leaf values**: at least {@link LEAF_VALUES} word children under a word (not under a value: after
 *   `/merge_requests/{iid}/` come route words such as `approve`, `changes`), none of which leads anywhere
 *   of its own (no id after it, no next word that no sibling shares) (`/nodes/worker-1`, `/nodes/minikube`);
 * - or it holds {@link MAX_WORDS} distinct words (no real API has that many route words in one place).
 * And one word at a time: a word followed by what follows the ids beside it is one of them
 * (`/groups/acme/projects` beside `/groups/42/projects`).
 *
 * Words beside a learned parameter: under the shared-continuation rules, a word seen in {@link KEEP_HITS}+
 * requests that leads nowhere the values lead stays a word (`/customers/search`, `/releases/permalink/…`);
 * every other word, and every new word, is `id` (`/users/me` seen once before `/users/{login}` was learned).
 *
 * Bounded: at most `maxNodes` nodes ({@link DEFAULT_MAX_NODES}); past it, new words are named by their
 * shape alone and not learned. Deterministic: the same sequence of paths gives the same model and names
 * (Maps iterate in insertion order; nothing is random or timed). Never throws on any token list.
 */

/** A learned model of route templates. */
export interface RouteModel {
  /** Learns from `tokens` (one request) and returns its name. */
  name(tokens: readonly string[]): string
  /**
   * The name of the raw path `path` when the model has nothing to learn from it (see route-walk.ts), counted
   * as a visit exactly as `name(pathTokens(path))` would; `undefined` when that full walk must run instead.
   */
  nameSettled(path: string): string | undefined
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
  const root = newNode(null, '')
  let size = 1
  let version = 0

  function addNext(node: Node | null, word: string, delta: number): void {
    if (node === null || VERSION.test(word)) return
    const next = node.next ?? (node.next = new Map<string, number>())
    const before = next.get(word) ?? 0
    const count = before + delta
    if (count > 0) next.set(word, count)
    else next.delete(word)
    node.pairs += delta
    if (before < 2 && count >= 2) node.sharedNext++
    else if (before >= 2 && count < 2) node.sharedNext--
  }

  /** Runs the rules at `node`; true when it was learned (the model changed). */
  function judge(node: Node): boolean {
    if (node.learned || node.words === null) return false
    if (node.words.size >= MAX_WORDS || sharesContinuations(node)) {
      learn(node, true)
      return true
    }
    if (node.parent !== null && node.parent.param !== node) {
      if (holdsLeafValues(node)) {
        // Pure leaves (`/leases/<node>`): keep nothing. Leaves beside values with shared continuations
        // (`/users/search` beside `/users/<login>/repos`): the same evidence as the shared-continuation rule.
        learn(node, node.pairs > 0)
        return true
      }
      if (sharesSecondContinuations(node)) {
        // What follows is a second value, so the words shared are two levels down: confirm none, and keep
        // none beside it (the keep rule looks one level down, where a second value never shares).
        learn(node, false, false)
        return true
      }
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
  function learn(node: Node, keepWords: boolean, confirm = true): void {
    version++
    node.learned = true
    const words = node.words
    if (words === null) return
    const kept = new Map<string, Node>()
    const values: Node[] = []
    const shared: string[] = []
    if (confirm && node.next !== null) for (const [word, count] of node.next) if (count >= 2) shared.push(word)
    for (const [word, child] of words) {
      if (VERSION.test(word) || (keepWords && child.hits >= KEEP_HITS && !sharesNext(node, child))) kept.set(word, child)
      else values.push(child)
    }
    let param = node.param
    if (param === null) {
      param = node.param = newNode(node, ID)
      size++
    }
    // The words that followed several values are route words, for good: marked before the merge, which
    // judges the merged nodes as it goes.
    for (const child of values) {
      for (const word of shared) {
        const next = child.words?.get(word)
        if (next !== undefined) next.confirmed = true
      }
    }
    for (const child of values) merge(param, child)
    // A word kept so far that leads where the values lead (`default/events`, hot before the rule fired, with
    // `events` seen after no other namespace yet) is a value after all.
    for (const [word, child] of kept) {
      if (!VERSION.test(word) && leadsLike(child, param)) {
        kept.delete(word)
        merge(param, child)
      }
    }
    // The parent counted these words as continuations of `node`; they are values now.
    for (const word of words.keys()) if (!kept.has(word)) addNext(node.parent, word, -1)
    node.words = kept.size === 0 ? null : kept
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
    if (from.confirmed) into.confirmed = true
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
            into.param = newNode(into, ID)
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
    node.sharedNext = 0
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
    const child = newNode(node, word)
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
          node.param = newNode(node, ID)
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
        const parent = node.parent
        if (child !== null && ((parent !== null && judge(parent)) || judge(node) || (parent?.parent != null && judge(parent.parent)))) {
          return true
        }
      }
      out.push(token)
      node = child
      if (node !== null) node.hits++
    }
    return before !== version
  }

  // The nodes a settled walk went through, counted only once it succeeds: one array for the model's life.
  const visited: Node[] = []

  /** `node`'s name, built once per model version: a learning event can move a node under another parent. */
  function nameOf(node: Node): string {
    if (node.named === version) return node.name
    const parent = node.parent
    node.name = parent === null || parent === root ? node.key : `${nameOf(parent)}.${node.key}`
    node.named = version
    return node.name
  }

  return {
    nameSettled(path) {
      const depth = walkSettled(root, path, visited)
      if (depth < 0) return undefined
      if (depth === 0) return 'root'
      for (let k = 0; k < depth; k++) visited[k]!.hits++
      return nameOf(visited[depth - 1]!)
    },
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
