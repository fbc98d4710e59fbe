/**
 * The rules of the learned route model (route-model.ts): when a position of the trie holds values. Pure
 * predicates over the nodes; the model runs them and collapses the positions they pick. The thresholds are
 * those that reach 97% agreement on names-bench `dev` and 99.9% on `tuning` (first 20,000 requests, over
 * HTTP) while keeping every route word of both corpora, and of bench/namer-cost.mjs's generated API, a word.
 */

/** Distinct word children, with every next word shared, that make a position a parameter (see the rules). */
export const SHARED_MIN_CHILDREN = 3
/** The same right after a value, where words are the rule (see `sharesContinuations`). */
export const SHARED_MIN_CHILDREN_AFTER_VALUE = 6
/** Children needed by the rule one level further (two values in a row), which has the least evidence. */
export const SECOND_MIN_CHILDREN = 8
/** (child, next word) pairs the shared-continuation rule needs (twice as many one level further). */
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
/** Default cap on the model's nodes: ~320 bytes each, so ~3.2 MB at most (bench/namer-cost.mjs); names-bench dev needs 1.8k. */
export const DEFAULT_MAX_NODES = 10_000

// `v1`, `v2beta1`, `v1alpha3`: API versions, shared by unrelated groups.
export const VERSION = /^v\d+(?:(?:alpha|beta)\d*)?$/

/** One position's entry in the trie: a word, or the parameter child of its parent. */
export interface Node {
  parent: Node | null
  /** The segment of a name this node stands for: its word under its parent, `id` for a parameter, `''` at the root. */
  readonly key: string
  /** This node's name (`key`s from the root, joined by `.`), valid while `named` equals the model's version. */
  name: string
  /** The model version `name` was built at; -1 before the first. */
  named: number
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
  /** Entries of `next` that follow two children or more: kept with it, so no rule walks `next` to count them. */
  sharedNext: number
  /**
   * Whether `key` is a version (`v1`, `v2beta1`), tested once here: the rules ask it of every child they pass, and
   * the regular expression per child and call was a fifth of a learning model's time (a scanner's flood).
   */
  readonly isVersion: boolean
  /** Requests that went through this node (to keep route words beside a parameter, see `learn`). */
  hits: number
  /**
   * A word proven by its parent's learning: it followed several values of the position just learned
   * (`pods` after `default`, `kube-system`, …), so the rules never take it for a value.
   */
  confirmed: boolean
}

/**
 * An empty node under `parent`, standing for the segment `key`.
 *
 * @example
 * const root = newNode(null, '')
 * root.param = newNode(root, 'id')
 */
export function newNode(parent: Node | null, key: string): Node {
  return {
    parent, key, name: '', named: -1, words: null, param: null, learned: false, next: null, pairs: 0, sharedNext: 0, hits: 0,
    confirmed: false, isVersion: VERSION.test(key),
  }
}

/**
 * Word children that may be values: not versions, not confirmed words.
 *
 * @example
 * candidates(node) // 3 for `default`, `kube-system`, `v1` under `namespaces` when `v1` is a version
 */
export function candidates(node: Node): number {
  let n = 0
  if (node.words !== null) for (const child of node.words.values()) if (!child.confirmed && !child.isVersion) n++
  return n
}

/**
 * The shared-continuation rule at `node` (over its children).
 *
 * @example
 * if (sharesContinuations(namespaces)) learn(namespaces)
 */
export function sharesContinuations(node: Node): boolean {
  if (node.pairs < SHARED_MIN_PAIRS || node.next === null || node.pairs < SHARED_RATIO * node.next.size) return false
  const children = candidates(node) + (node.param === null ? 0 : 1)
  // Right after a value, words are the rule (`/namespaces/{ns}/pods`) and two values in a row the exception
  // (`/repos/{owner}/{repo}`), so there the evidence must be twice as strong: early on, when few object
  // names exist, the resource kinds of one namespace share them as much as repository names share `issues`.
  if (node.parent !== null && node.parent.param === node) {
    return children >= SHARED_MIN_CHILDREN_AFTER_VALUE && children >= 2 * node.next.size
  }
  return children >= SHARED_MIN_CHILDREN
}

/**
 * True when a next word of `child` (a child of `node`) also follows another child of `node`.
 *
 * @example
 * sharesNext(namespaces, defaultNamespace) // true once `pods` also follows `kube-system`
 */
export function sharesNext(node: Node, child: Node): boolean {
  if (child.words === null) return false
  for (const word of child.words.keys()) if ((node.next?.get(word) ?? 0) >= 2) return true
  return false
}

/**
 * The leaf-values rule at `node`, whose incoming edge is a word.
 *
 * @example
 * holdsLeafValues(nodes) // true after `/nodes/a`, `/nodes/b`, `/nodes/c`, `/nodes/d`
 */
export function holdsLeafValues(node: Node): boolean {
  const words = node.words
  if (words === null || candidates(node) < (node.param === null ? LEAF_VALUES : LEAF_VALUES_BESIDE_IDS)) return false
  for (const child of words.values()) {
    if (child.isVersion || child.confirmed) continue
    if (child.param !== null) return false
    if (child.words === null) continue
    // Followed only by words its siblings share: a value too (`/nodes/{name}/status`).
    for (const [next, after] of child.words) if (after.isVersion || (node.next?.get(next) ?? 0) < 2) return false
  }
  return true
}

/**
 * The shared-continuation rule one level further, for two values in a row under a word
 * (`/repos/{owner}/{repo}/issues`): the children's children are values too, and the words after them are
 * shared. Stricter, like the rule after a value: the children must outnumber twice those words, which
 * keeps `/api/v4/{projects,groups}/{id}/issues` (few children, many words) apart. Runs when a word is
 * added two levels down; it walks at most the children's children (bounded by the node cap).
 *
 * @example
 * sharesSecondContinuations(repos) // true once many owners' repositories lead to `issues`
 */
export function sharesSecondContinuations(node: Node): boolean {
  const children = candidates(node)
  if (children < SECOND_MIN_CHILDREN || node.words === null) return false
  // The middle level must look like values: few of its words follow more than one child. Namespaces,
  // whose next words (`pods`) follow many of them, are for the one-level rule.
  if (node.next !== null && 4 * node.sharedNext > node.next.size) return false
  let pairs = 0
  const words = new Set<string>()
  // The rule needs `children >= 2 * words.size`, and words only grow: past half the children the answer is no,
  // and the walk stops there. Walked to the end, it made every new word three levels down cost a pass over all
  // the position's descendants: a scanner's distinct paths (`/x/<one of 200 words>/<new>/<new>`) took 1.3 ms a
  // request at 9,000 nodes, quadratic until the node cap.
  const count = (grandchild: Node): boolean => {
    if (grandchild.words === null) return true
    for (const [next, after] of grandchild.words) {
      if (after.isVersion) continue
      pairs++
      words.add(next)
      if (2 * words.size > children) return false
    }
    return true
  }
  // Through the children's children, versions aside: `/apis/{apps,batch}/v1/namespaces` shares `namespaces`
  // after a version, and the version says the groups are route words.
  for (const child of node.words.values()) {
    if (child.confirmed || child.isVersion) continue
    if (child.words !== null) {
      for (const grandchild of child.words.values()) if (!grandchild.isVersion && !count(grandchild)) return false
    }
    if (child.param !== null && !count(child.param)) return false
  }
  return pairs >= 2 * SHARED_MIN_PAIRS && pairs >= SHARED_RATIO * words.size && children >= 2 * words.size
}

/**
 * True when `child` has a next word `param` also has (versions aside).
 *
 * @example
 * leadsLike(defaultNamespace, namespaces.param) // true: both lead to `events`
 */
export function leadsLike(child: Node, param: Node): boolean {
  if (child.words === null || param.words === null) return false
  for (const [word, next] of child.words) if (!next.isVersion && param.words.has(word)) return true
  return false
}
