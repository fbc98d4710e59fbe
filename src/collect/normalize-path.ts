/**
 * Heuristic route names: the last link of the resolution chain (DESIGN.md, "Route names"). When neither the
 * app nor its framework names a route, the raw request path becomes a bounded metric name:
 *
 *   raw path ─▶ skip `scheme://authority` ─▶ stop at `?` or `#` ─▶ split on `/` and `\`, drop empty segments
 *     ─▶ per segment: percent-decode (never throws) ─▶ drop `.` ─▶ id-like? `id` : unsafe chars → `_`, cap length
 *     ─▶ join with `.`, at most MAX_DEPTH segments, then one `_` ─▶ `root` when nothing is left
 *
 * It runs on the request path for every path the name cache has not seen, so it is one charCodeAt pass over
 * the path plus a few per segment (most stop early), with no regex; it allocates only the segment slices
 * (decoded or sanitized copies when needed) and the result. Measured with a throwaway loop on Node 20.20, in a
 * loaded 2-core container where `split('/').join('.')` of the same paths costs ~200 ns: ~290 ns/call averaged
 * over six typical paths (`/users/<uuid>/posts/42?page=2` ~400 ns, `/blog/hello-world` ~200 ns), ~10 ns for
 * `/`, ~2 µs for a path holding a 150-character JWT, ~0.6 ms for a 64 KiB segment.
 */

/**
 * Most segments a name keeps. Deeper paths keep their first `MAX_DEPTH` segments and end in one
 * {@link OVERFLOW_SEGMENT}, so `/a/b/c/d/e/f/g/h/i/j` and `/a/b/c/d/e/f/g/h/x` share a name but never
 * pretend to be `/a/b/c/d/e/f/g/h`. Eight covers real REST nesting; beyond that it is a crawler or a file tree.
 *
 * @example
 * normalizePath('/1/2/3/4/5/6/7/8/9/10') // 'id.id.id.id.id.id.id.id._'
 */
export const MAX_DEPTH = 8;

/**
 * Longest segment a name keeps, in characters. A longer segment that is not id-like is cut to this length
 * (a StatsD line or an InfluxDB tag stays short; 64 fits any real word or slug).
 *
 * @example
 * normalizePath('/' + 'a'.repeat(100)) // 'a'.repeat(64)
 */
export const MAX_SEGMENT_LENGTH = 64;

/**
 * The segment that stands for everything past {@link MAX_DEPTH}. A lone `_` because it is in the safe set of
 * every encoder and no real word.
 *
 * @example
 * normalizePath('/a/b/c/d/e/f/g/h/i').endsWith('.' + OVERFLOW_SEGMENT) // true
 */
export const OVERFLOW_SEGMENT = '_';

const ID = 'id';
const ROOT = 'root';

// Character codes, named once so the scans read as intent.
const SLASH = 47, BACKSLASH = 92, QUESTION = 63, HASH = 35, PERCENT = 37, COLON = 58;
const DOT = 46, AT = 64, DASH = 45, PLUS = 43;

// One table lookup per character gives its class and every flag the rules test (only ~3% faster than range
// tests, A/B measured, but it keeps the scans short). Low two bits: the class the token rules see (anything but
// a letter or digit separates "parts"), then flags.
const SEP = 0, DIGIT = 1, LOWER = 2, UPPER = 3, CLASS = 3;
const VOWEL = 4, HEX = 8, NOT_CROCKFORD = 16, SAFE = 32;
const TABLE = new Uint8Array(128);
for (let c = 48; c <= 57; c++) TABLE[c] = DIGIT | HEX | SAFE;
for (let c = 97; c <= 122; c++) {
  const vowel = 'aeiouy'.includes(String.fromCharCode(c)) ? VOWEL : 0;
  const hex = c <= 102 ? HEX : 0;
  const crockford = 'ilou'.includes(String.fromCharCode(c)) ? NOT_CROCKFORD : 0;
  TABLE[c] = LOWER | vowel | hex | crockford | SAFE;
  TABLE[c - 32] = UPPER | vowel | hex | crockford | SAFE;
}
TABLE[DASH] = TABLE[95] = SAFE;

// A run of this many digits anywhere makes a segment an id: order and invoice numbers (`ORD-2024-000123`,
// `INV2024000123`), slugs ending in a database id. Slug numbers stay shorter (years, `cve-2021-44228`).
const LONG_NUMBER = 6;

// What `classify` finds out about a segment.
const CLEAN = 0, DIRTY = 1, IDENTIFIER = 2;

/**
 * Turns a raw request path (or an absolute-form URL) into a metric name made only of `[A-Za-z0-9_-]`
 * segments joined by `.`. Segments that look like identifiers collapse to `id`; words, slugs and versions stay.
 * Never throws, for any input, and runs in time linear in the input.
 *
 * Rules, in order (a segment is tested after percent-decoding):
 * - query and fragment are cut; `http://host:80/p` is reduced to `/p`; `/` and `\` both split (browsers treat
 *   `\` as `/` in http URLs); empty segments and `.` are dropped; `..` is not resolved (the server did not
 *   either) and comes out as `__`;
 * - a segment with a malformed escape (`%zz`, truncated UTF-8) is kept undecoded;
 * - `id`: all digits, or 6+ digits in a row; 8+ hex chars with a digit (ObjectIds, hashes, undashed UUIDs);
 *   dashed UUIDs and ULIDs in any case; ISO dates (`2024-01-31`, `2024-01-31T12:00:00Z`); emails (`a@b.c`,
 *   also `%40`); random tokens (see `classifyLong`);
 * - any character other than `[A-Za-z0-9_-]` becomes `_` (so `report.pdf` is `report_pdf` and no dot, colon,
 *   pipe, at sign, space or NUL can reach an encoder), then the segment is cut to {@link MAX_SEGMENT_LENGTH};
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
  const tokens = pathTokens(path);
  return tokens.length === 0 ? ROOT : tokens.join('.');
}

/**
 * The segments of {@link normalizePath}'s name, before they are joined: each is `id`, a sanitized word, or a
 * last {@link OVERFLOW_SEGMENT} past {@link MAX_DEPTH}. Empty for `/`. The learning namer walks these.
 *
 * @example
 * pathTokens('/users/42/posts?page=2') // ['users', 'id', 'posts']
 */
export function pathTokens(path: string): string[] {
  const tokens: string[] = [];
  // The type says string, but plain-JS callers exist and nothing may throw into the host app.
  if (typeof path !== 'string') return tokens;
  const n = path.length;
  // Origin-form (`/…`) is what servers see nearly always: one comparison and we are past it.
  let i = path.charCodeAt(0) === SLASH ? 1 : afterAuthority(path);
  let start = i;
  let encoded = false;
  // One charCodeAt pass that splits and notes `%`. Tried: native indexOf for `?`, `#`, `%`, `/`; no faster on
  // typical paths (285 vs 290 ns/call, A/B interleaved), since each call has a fixed cost.
  for (; ; i++) {
    // The end of input closes the last segment exactly as a `?` would.
    const c = i < n ? path.charCodeAt(i) : QUESTION;
    if (c === PERCENT) {
      encoded = true;
    } else if (c === SLASH || c === BACKSLASH || c === QUESTION || c === HASH) {
      if (i > start) {
        const segment = encoded ? decodedSegmentName(path.slice(start, i)) : segmentName(path, start, i);
        if (segment !== '') {
          // Only a real segment past the cap earns the marker, so `/a/…/h/` and `/a/…/h/.` get no `_`.
          if (tokens.length === MAX_DEPTH) {
            tokens.push(OVERFLOW_SEGMENT);
            break;
          }
          tokens.push(segment);
        }
      }
      if (c === QUESTION || c === HASH) break;
      start = i + 1;
      encoded = false;
    }
  }
  return tokens;
}

/**
 * Index where the path starts in an absolute-form target (`http://user@host:80/p?q` → at `/p`), or 0 when
 * the input has no `scheme://`, in which case it is all path (`*`, `users/1`, `//a/b` are taken literally:
 * a server hands us `//a/b` as a path, not as a host).
 */
function afterAuthority(path: string): number {
  const n = path.length;
  const first = path.charCodeAt(0);
  if (!(first < 128 && (TABLE[first] & CLASS) >= LOWER)) return 0;
  let i = 1;
  for (; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c === COLON) break;
    if (!(c < 128 && (TABLE[c] & CLASS) !== SEP) && c !== PLUS && c !== DASH && c !== DOT) return 0;
  }
  if (path.charCodeAt(i + 1) !== SLASH || path.charCodeAt(i + 2) !== SLASH) return 0;
  for (i += 3; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c === SLASH || c === BACKSLASH || c === QUESTION || c === HASH) return i;
  }
  return n;
}

/**
 * Name of the segment `s[start, end)` (non-empty, no `%`): `''` when dropped, `id`, or the capped text.
 * Works on indices so the common clean word costs one scan and one slice.
 */
function segmentName(s: string, start: number, end: number): string {
  if (end - start === 1 && s.charCodeAt(start) === DOT) return '';
  const verdict = classify(s, start, end);
  if (verdict === IDENTIFIER) return ID;
  if (verdict === CLEAN) return s.slice(start, end - start > MAX_SEGMENT_LENGTH ? start + MAX_SEGMENT_LENGTH : end);
  return sanitize(s, start, end);
}

/** Same as `segmentName` for a raw segment that holds a `%`. */
function decodedSegmentName(raw: string): string {
  let text: string;
  // decodeURIComponent is native and fast, but throws URIError on `%zz`, `%E0%A4` or an encoded lone
  // surrogate. The raw text is still a fine name: its `%` becomes `_`.
  try {
    text = decodeURIComponent(raw);
  } catch {
    text = raw;
  }
  return segmentName(text, 0, text.length);
}

/**
 * Answers `IDENTIFIER`, `CLEAN` (only `[A-Za-z0-9_-]`) or `DIRTY` for the segment `s[start, end)`. Most
 * segments are short words or numbers, and most long ones are hex ids or words, so cheap checks go first
 * (A/B measured on typical paths: ~290 instead of ~390 ns/call).
 */
function classify(s: string, start: number, end: number): number {
  const n = end - start;
  // Every rule but numbers and emails needs 8+ characters.
  if (n < 8) return classifyShort(s, start, end);
  if (n === 36 && isUuid(s, start)) return IDENTIFIER;
  if (isHexId(s, start, end)) return IDENTIFIER;
  return classifyLong(s, start, end);
}

function classifyShort(s: string, start: number, end: number): number {
  let digits = 0, digitRun = 0, dirty = false, at = -1, lastDot = -1;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    const f = c < 128 ? TABLE[c] : 0;
    if ((f & CLASS) === DIGIT) {
      digits++;
      if (++digitRun >= LONG_NUMBER) return IDENTIFIER;
      continue;
    }
    digitRun = 0;
    if ((f & SAFE) === 0) {
      dirty = true;
      if (c === AT) {
        if (at < 0) at = i;
      } else if (c === DOT) lastDot = i;
    }
  }
  if (digits === end - start || (at > start && lastDot > at + 1 && lastDot < end - 1)) return IDENTIFIER;
  return dirty ? DIRTY : CLEAN;
}

/** 8+ hex characters with at least one digit: ObjectIds, undashed UUIDs, hashes, and long integers. */
function isHexId(s: string, start: number, end: number): boolean {
  let digit = false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    const f = c < 128 ? TABLE[c] : 0;
    // A word leaves at its first letter past `f`, usually within three characters.
    if ((f & HEX) === 0) return false;
    if ((f & CLASS) === DIGIT) digit = true;
  }
  return digit;
}

/**
 * One scan of a segment of 8+ characters that is neither a UUID nor hex, gathering every feature the
 * remaining rules need. The token rules look only at letters and digits (anything else just
 * separates "parts"), so a segment and its sanitized form are classified alike and a name fed back in keeps
 * its segments (tested as a property).
 *
 * Token rules. A token has at least one digit or upper-case letter (a lower-case slug is always a word) and
 * either
 * - 10+ letters and digits mixing all three classes with a class change at least every 2nd character
 *   (`dQw4w9WgXcQ`), or
 * - 16+ letters and digits and one of:
 *   - a class change (lower, upper, digit) at least every 4th character, where `Word` (one capital, then lower
 *     case) and a digit suffix ending a part (`html5`, `v2`) are not changes: random base62 changes class about
 *     every 1.6 characters, slugs and camelCase every 5 or more;
 *   - 6+ consonants in a row (`y` counts as a vowel) in lower case, or in a part with no lower case: rare in
 *     words (`latchstring`), common in random text. Upper case inside camelCase is not counted (`HTTPSProxy`);
 *   - a part of 10+ characters in one letter case holding two separate digit runs (`wguzxint54w286`).
 * Measured with a throwaway script over 20 000 random strings per kind: misses 0.6% of 16-char base62, 0.3% of
 * 20-char, 0.1% of 24-char, ~1.1% of 21–22 char base64url (nanoid, base64 UUIDs), 0.2% at 32, none of JWTs;
 * 3% of 16-char lower-case base36, 10% of 16-char upper-case base32; only a third of 11-char YouTube-style ids.
 * Known false positives: camelCase with several digit runs (`iPhone15ProMaxReview`, `Win32AppsOnArm64`); 0 of
 * ~80 real slugs with versions and numbers. Misses are bounded downstream by the cardinality budget.
 */
function classifyLong(s: string, start: number, end: number): number {
  const n = end - start;
  let digits = 0, digitRun = 0, longNumber = false, upper = 0, lower = 0, dirty = false;
  let crockford = true, at = -1, lastDot = -1;
  let prev = SEP, upperRun = 0, changes = 0, digitSuffix = false;
  let consonants = 0, maxConsonants = 0, upperConsonants = 0, partUpperConsonants = 0;
  let partLength = 0, partDigitRuns = 0, partUpper = false, partLower = false, splitDigitsPart = false;
  for (let i = start; i <= end; i++) {
    const c = i < end ? s.charCodeAt(i) : -1;
    const f = c >= 0 && c < 128 ? TABLE[c] : 0;
    const k = f & CLASS;
    if (k === SEP) {
      if (i < end) {
        crockford = false;
        if ((f & SAFE) === 0) dirty = true;
        if (c === AT) {
          if (at < 0) at = i - start;
        } else if (c === DOT) lastDot = i - start;
      }
      if (prev !== SEP) {
        if (prev === DIGIT && digitSuffix) changes--;
        if (partLength >= 10 && partDigitRuns >= 2 && !(partUpper && partLower)) splitDigitsPart = true;
        if (!partLower && partUpperConsonants > maxConsonants) maxConsonants = partUpperConsonants;
        partLength = partDigitRuns = partUpperConsonants = 0;
        partUpper = partLower = false;
      }
      prev = SEP;
      upperRun = consonants = upperConsonants = digitRun = 0;
      digitSuffix = false;
      continue;
    }
    partLength++;
    if ((f & NOT_CROCKFORD) !== 0) crockford = false;
    if (k === DIGIT) {
      digits++;
      if (++digitRun >= LONG_NUMBER) longNumber = true;
      consonants = upperConsonants = 0;
      if (prev !== DIGIT) partDigitRuns++;
    } else if (k === UPPER) {
      digitRun = 0;
      upper++;
      partUpper = true;
      consonants = 0;
      if ((f & VOWEL) !== 0) upperConsonants = 0;
      else if (++upperConsonants > partUpperConsonants) partUpperConsonants = upperConsonants;
    } else {
      digitRun = 0;
      lower++;
      partLower = true;
      upperConsonants = 0;
      if ((f & VOWEL) !== 0) consonants = 0;
      else if (++consonants > maxConsonants) maxConsonants = consonants;
    }
    if (prev !== SEP && k !== prev && !(prev === UPPER && k === LOWER && upperRun === 1)) {
      changes++;
      digitSuffix = k === DIGIT;
    }
    upperRun = k === UPPER ? upperRun + 1 : 0;
    prev = k;
  }

  const verdict = dirty ? DIRTY : CLEAN;
  if (longNumber) return IDENTIFIER;
  // ULID: Crockford base32, and a 48-bit timestamp caps the first character at 7.
  if (n === 26 && crockford && s.charCodeAt(start) <= 55) return IDENTIFIER;
  if (digits >= 8 && isIsoDate(s, start, end)) return IDENTIFIER;
  if (at > 0 && lastDot > at + 1 && lastDot < n - 1) return IDENTIFIER;
  const alnum = digits + upper + lower;
  if (alnum >= 10 && digits > 0 && upper > 0 && lower > 0 && changes * 2 >= alnum) return IDENTIFIER;
  if (alnum >= 16 && (digits > 0 || upper > 0)) {
    if (changes * 4 >= alnum || maxConsonants >= 6 || splitDigitsPart) return IDENTIFIER;
  }
  return verdict;
}

/** `8-4-4-4-12` hex digits, any case; the caller checked the length is 36. */
function isUuid(s: string, start: number): boolean {
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(start + i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== DASH) return false;
    } else if (!(c < 128 && (TABLE[c] & HEX) !== 0)) return false;
  }
  return true;
}

/** `YYYY-MM-DD`, optionally followed by `T` (or a space) and a time made of digits and `:.+-Z`. */
function isIsoDate(s: string, start: number, end: number): boolean {
  const n = end - start;
  if (n < 10 || n === 11) return false;
  for (let i = 0; i < 10; i++) {
    const c = s.charCodeAt(start + i);
    if (i === 4 || i === 7 ? c !== DASH : c < 48 || c > 57) return false;
  }
  if (n === 10) return true;
  const t = s.charCodeAt(start + 10);
  if (t !== 84 && t !== 116 && t !== 32) return false;
  for (let i = start + 11; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!(c >= 48 && c <= 58) && c !== DOT && c !== PLUS && c !== DASH && c !== 90 && c !== 122) return false;
  }
  return true;
}

/** Keeps `[A-Za-z0-9_-]` of `s[start, end)`, turns every other UTF-16 unit into `_`, caps the length. */
function sanitize(s: string, start: number, end: number): string {
  const stop = end - start > MAX_SEGMENT_LENGTH ? start + MAX_SEGMENT_LENGTH : end;
  let out = '';
  for (let i = start; i < stop; i++) {
    const c = s.charCodeAt(i);
    out += c < 128 && (TABLE[c] & SAFE) !== 0 ? s[i] : '_';
  }
  return out;
}
