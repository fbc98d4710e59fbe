import { IDENTIFIER, SAFE, SLASH, TABLE, UNDERSCORE } from './char-class.js'
import { MAX_DEPTH } from './normalize-path.js'
import type { Node } from './route-rules.js'
import { classify } from './segment-shape.js'

/**
 * The learned model's walk for a path it has nothing to learn from, straight over the raw path: the steady
 * state, where every segment is a known word or goes to an existing parameter child. It returns how many
 * nodes it went through (`visited[depth - 1]` is the node the full walk, `pathTokens` and then the model's
 * `walk`, would end on), or -1 when the full walk must decide: a new word, a `%` or a `\` in the path, a dirty
 * segment that might sanitize to a kept word, a one-character segment the full walk drops or reads as the
 * overflow marker, a missing parameter child, more than {@link MAX_DEPTH} segments, a path that does not
 * start with `/`.
 *
 *   raw path ─▶ per segment, at the current node:
 *     a known word (looked up as it is) ─▶ its word child
 *     learned position (every other word there is a value) ─▶ the parameter child, no shape test
 *     other positions ─▶ shape `id` → the parameter child; else the full walk (a new word to learn)
 *
 * It saves what the full walk spends on a request it learns nothing from: the token array, a shape test per
 * segment (none for known words or at learned positions), the join and the hash of the fresh name (the name
 * is kept on the node). On the bench's tiny route, Node 24.22: 5,750 instructions a request less
 * (bench/README, "Instructions per request"). It changes nothing; the caller counts the visit (`hits`) only
 * when the walk succeeds.
 *
 * Segments are found with `indexOf`, not read a character at a time: in optimized code every `charCodeAt`
 * dispatches on the string's representation and reloads the imported character codes, ≈ 60 instructions a
 * character, where `indexOf` is one call and a `memchr`. On the tiny route's requests that is ≈ 1,000 instructions
 * a name less (`bench/instructions.mjs`, Node 24.22). Timed per path shape (`bench/namer-cost.mjs --shapes` with
 * ROUTEMETER_DIST_BEFORE), UUID paths name 20–25 % faster, while the shortest (`/a/users/<int>`, `/a/pages/<word>`)
 * are 4–18 % slower: the whole-path `indexOf` calls cost more than reading 15 characters.
 *
 * @example
 * const depth = walkSettled(root, '/users/42', visited) // 2: visited[1] is users' parameter child
 */
export function walkSettled(root: Node, path: string, visited: Node[]): number {
  if (path.length === 0 || path.charCodeAt(0) !== SLASH) return -1
  // Where the path ends: a `?` or `#` ends it as the end of input does.
  let end = path.indexOf('?')
  if (end === -1) end = path.length
  const hash = path.indexOf('#')
  if (hash !== -1 && hash < end) end = hash
  // A `%` may decode to a separator, a `.` or nothing, and a `\` separates like a `/`: both rare, left to the
  // full walk, so that the segments can be found with `indexOf('/')` alone.
  const percent = path.indexOf('%')
  if (percent !== -1 && percent < end) return -1
  const backslash = path.indexOf('\\')
  if (backslash !== -1 && backslash < end) return -1
  let node = root
  let depth = 0
  for (let start = 1; start < end;) {
    let stop = path.indexOf('/', start)
    if (stop === -1 || stop > end) stop = end
    if (stop > start) {
      // One character that is not a letter, digit or `-` is dropped (`.`) or becomes `_`, which ends a name
      // as the overflow marker: the full walk's cases. (The trie holds no node past MAX_DEPTH, so the depth
      // test only keeps this walk from relying on it.)
      if (depth === MAX_DEPTH || (stop - start === 1 && !isWordChar(path.charCodeAt(start)))) return -1
      const next = childFor(node, path, start, stop)
      if (next === null) return -1
      visited[depth++] = node = next
    }
    start = stop + 1
  }
  return depth
}

/** The child of `node` that the segment `path[start, end)` leads to, or null when the full walk must decide. */
function childFor(node: Node, path: string, start: number, end: number): Node | null {
  // A known word, looked up as it is: words are kept sanitized, so a dirty segment matches none. Its shape
  // need not be tested: a word was a word when it was learned and reads the same now.
  const word = node.words?.get(path.slice(start, end))
  if (word !== undefined) return word
  // At a learned position every other segment is a value, whatever its shape, unless it is dirty and might
  // sanitize to a kept word.
  if (node.learned) return node.words === null || isClean(path, start, end) ? node.param : null
  // Elsewhere only a shaped id goes to the parameter child; a new word is learned by the full walk.
  return classify(path, start, end) === IDENTIFIER ? node.param : null
}

function isClean(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i)
    if (c >= 128 || (TABLE[c]! & SAFE) === 0) return false
  }
  return true
}

/** A letter, a digit or `-`: a one-character segment the full walk keeps as it is. */
function isWordChar(c: number): boolean {
  return c !== UNDERSCORE && c < 128 && (TABLE[c]! & SAFE) !== 0
}
