import { BACKSLASH, DASH, DOT, HASH, PERCENT, PLUS, QUESTION, SLASH } from './char-class.js'
import { decodedSegmentToken, segmentToken } from './segment-shape.js'

/**
 * Heuristic route names: value shapes alone, the fallback of the learning namer (route-model.ts) and the
 * namer when `learn: false` (README, "How names are derived"). The raw request path becomes a bounded
 * metric name:
 *
 *   raw path ─▶ skip `scheme://authority` ─▶ stop at `?` or `#` ─▶ split on `/` and `\`, drop empty segments
 *     ─▶ per segment (segment-shape.ts): percent-decode ─▶ drop `.` ─▶ value shape? `id` : unsafe chars → `_`
 *     ─▶ join with `.`, at most MAX_DEPTH segments, then one `_` ─▶ `root` when nothing is left
 *
 * It runs at flush, off the request path, for every path the namer has no cached name for (paths with ids
 * are never cached, so nearly every request that has one): one charCodeAt pass over the path to split it,
 * then per segment one pass over its parts plus the whole-segment rules (most stop early); no regex but for
 * the rare version check. Measured with a throwaway loop on Node 20.20 in a loaded 2-core container,
 * averaged over six typical paths (`/users/<uuid>/posts/42?page=2`, `/blog/hello-world`, a Kubernetes pod
 * path, an ObjectId, `/health`, a GitLab path with `%2F`): ~640 ns/call, against ~400 ns for 0.1.0's rules,
 * which missed most of the value shapes the part scan catches (names-bench dev: 42% → 61%). On
 * bench/namer-cost.mjs's generated API traffic (`normalizePath alone`): ≈ 710 ns a path, Node 20.20.
 */

/**
 * Most segments a name keeps. Deeper paths keep their first `MAX_DEPTH` segments and end in one
 * {@link OVERFLOW_SEGMENT}, so `/a/b/c/d/e/f/g/h/i/j` and `/a/b/c/d/e/f/g/h/x` share a name but never
 * pretend to be `/a/b/c/d/e/f/g/h`. Eight covers real REST nesting; beyond that it is a crawler or a file tree.
 *
 * @example
 * normalizePath('/1/2/3/4/5/6/7/8/9/10') // 'id.id.id.id.id.id.id.id._'
 */
export const MAX_DEPTH = 8

/**
 * The segment that stands for everything past {@link MAX_DEPTH}. A lone `_` because it is in the safe set of
 * every encoder and no real word.
 *
 * @example
 * normalizePath('/a/b/c/d/e/f/g/h/i').endsWith('.' + OVERFLOW_SEGMENT) // true
 */
export const OVERFLOW_SEGMENT = '_'

const ROOT = 'root'

// The one character code only this file scans for (the others are char-class.ts's).
const COLON = 58

/**
 * Turns a raw request path (or an absolute-form URL) into a metric name made only of `[A-Za-z0-9_-]`
 * segments joined by `.`. Segments that look like identifiers collapse to `id`; words, slugs and versions stay.
 * Never throws, for any input, and runs in time linear in the input.
 *
 * Rules, in order (a segment is tested after percent-decoding):
 * - query and fragment are cut; `http://host:80/p` is reduced to `/p`; `/` and `\` both split (browsers treat
 *   `\` as `/` in http URLs); empty segments and `.` are dropped; `..` is not resolved (the server did not
 *   either) and comes out as `__`;
 * - `id` (segment-shape.ts): a malformed escape (`%zz`, truncated UTF-8); more than
 *   `MAX_SEGMENT_LENGTH` (64) characters; non-ASCII; free text (a space, `= & + , ~ ( )`, an `@` past the first
 *   character, an encoded `/`); numbers, alone or joined by `-_.` (`123-456`, `10.96.23.161`); release versions
 *   (`1.2.3`, `v14.3.9-ee`); 6+ digits in a row; hex ids (8+ characters, or a 6+ character part with letters
 *   and digits: `da39a3e`, `abc123`); letter-digit ids (`x7k2p9`); grouped codes (`GHSA-pj59-32mm-8cc4`);
 *   dashed UUIDs and ULIDs in any case; ISO dates; random tokens (see `classifyLong`);
 * - kept as words: `oauth2`, `v1beta1`, `k8s`, `v1.2`, `terms-of-service`, `@me`; any character other than
 *   `[A-Za-z0-9_-]` becomes `_` (so `report.pdf` is `report_pdf` and no dot, colon, pipe, or NUL can reach an
 *   encoder);
 * - depth is capped by {@link MAX_DEPTH}; no segment left gives `root` (so `/` and `/root` share a name).
 *
 * @example
 * normalizePath('/users/3F2504E0-4F89-11D3-9A0C-0305E82C3301/posts/42?page=2') // 'users.id.posts.id'
 * normalizePath('/v2/orders/5f1d7c2e9b1e8a3d4c6b2a10') // 'v2.orders.id'
 * normalizePath('/blog/hello-world') // 'blog.hello-world'
 * normalizePath('/files/report.pdf') // 'files.report_pdf'
 * normalizePath('/') // 'root'
 */
export function normalizePath(path: string): string {
  const tokens = pathTokens(path)
  return tokens.length === 0 ? ROOT : tokens.join('.')
}

/**
 * The segments of {@link normalizePath}'s name, before they are joined: each is `id`, a sanitized word, or a
 * last {@link OVERFLOW_SEGMENT} past {@link MAX_DEPTH}. Empty for `/`. The learning namer walks these.
 *
 * @example
 * pathTokens('/users/42/posts?page=2') // ['users', 'id', 'posts']
 */
export function pathTokens(path: string): string[] {
  const tokens: string[] = []
  // The type says string, but plain-JS callers exist and nothing may throw into the host app.
  if (typeof path !== 'string') return tokens
  const n = path.length
  // Origin-form (`/…`) is what servers see nearly always: one comparison and we are past it.
  let i = path.charCodeAt(0) === SLASH ? 1 : afterAuthority(path)
  let start = i
  let encoded = false
  // One charCodeAt pass that splits and notes `%`. Tried: native indexOf for `?`, `#`, `%`, `/`; no faster on
  // typical paths (285 vs 290 ns/call, A/B interleaved), since each call has a fixed cost.
  for (; ; i++) {
    // The end of input closes the last segment exactly as a `?` would.
    const c = i < n ? path.charCodeAt(i) : QUESTION
    if (c === PERCENT) {
      encoded = true
    } else if (c === SLASH || c === BACKSLASH || c === QUESTION || c === HASH) {
      if (i > start) {
        const segment = encoded ? decodedSegmentToken(path.slice(start, i)) : segmentToken(path, start, i)
        if (segment !== '') {
          // Only a real segment past the cap earns the marker, so `/a/…/h/` and `/a/…/h/.` get no `_`.
          if (tokens.length === MAX_DEPTH) {
            tokens.push(OVERFLOW_SEGMENT)
            break
          }
          tokens.push(segment)
        }
      }
      if (c === QUESTION || c === HASH) break
      start = i + 1
      encoded = false
    }
  }
  return tokens
}

/**
 * Index where the path starts in an absolute-form target (`http://user@host:80/p?q` → at `/p`), or 0 when
 * the input has no `scheme://`, in which case it is all path (`*`, `users/1`, `//a/b` are taken literally:
 * a server hands us `//a/b` as a path, not as a host).
 */
function afterAuthority(path: string): number {
  const n = path.length
  if (!isLetter(path.charCodeAt(0))) return 0
  let i = 1
  for (; i < n; i++) {
    const c = path.charCodeAt(i)
    if (c === COLON) break
    if (!isLetter(c) && !(c >= 48 && c <= 57) && c !== PLUS && c !== DASH && c !== DOT) return 0
  }
  if (path.charCodeAt(i + 1) !== SLASH || path.charCodeAt(i + 2) !== SLASH) return 0
  for (i += 3; i < n; i++) {
    const c = path.charCodeAt(i)
    if (c === SLASH || c === BACKSLASH || c === QUESTION || c === HASH) return i
  }
  return n
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
}
