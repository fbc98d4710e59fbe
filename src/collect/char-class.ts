/**
 * The character table and codes the path and segment rules share: one lookup gives a character's class and
 * every flag a rule tests. Internal to `src/collect` (normalize-path.ts, route-walk.ts, segment-shape.ts,
 * token-score.ts).
 *
 * @example
 * const f = TABLE['a'.charCodeAt(0)] // LOWER | VOWEL | HEX | SAFE
 */

// Character codes, named once so the scans read as intent.
export const DOT = 46, AT = 64, DASH = 45, PLUS = 43
// The characters that split a raw path into segments or end it, and the escape that may hide one.
export const SLASH = 47, BACKSLASH = 92, QUESTION = 63, HASH = 35, PERCENT = 37, UNDERSCORE = 95

// One table lookup per character gives its class and every flag the rules test (only ~3% faster than range
// tests, A/B measured, but it keeps the scans short). Low two bits: the class the token rules see (anything but
// a letter or digit separates "parts"), then flags.
export const SEP = 0, DIGIT = 1, LOWER = 2, UPPER = 3, CLASS = 3
export const VOWEL = 4, HEX = 8, NOT_CROCKFORD = 16, SAFE = 32, FREE = 64
export const TABLE = new Uint8Array(128)
for (let c = 48; c <= 57; c++) TABLE[c] = DIGIT | HEX | SAFE
for (let c = 97; c <= 122; c++) {
  const vowel = 'aeiouy'.includes(String.fromCharCode(c)) ? VOWEL : 0
  const hex = c <= 102 ? HEX : 0
  const crockford = 'ilou'.includes(String.fromCharCode(c)) ? NOT_CROCKFORD : 0
  TABLE[c] = LOWER | vowel | hex | crockford | SAFE
  TABLE[c - 32] = UPPER | vowel | hex | crockford | SAFE
}
TABLE[DASH] = TABLE[95] = SAFE
// Characters of free text, search terms and query-like values, never of a route word: a space, `= & + , ~
// ( )`, `@` past the first character (emails, `user@host`; a leading `@` is a word: Discord's `@me`), and
// a `/` or `\` that can only be here percent-encoded (a GitLab project path, a branch with a slash).
for (const c of ' =&+,~()@/\\') TABLE[c.charCodeAt(0)] = FREE

// A run of this many digits anywhere makes a segment an id: order and invoice numbers (`ORD-2024-000123`,
// `INV2024000123`), slugs ending in a database id. Slug numbers stay shorter (years, `cve-2021-44228`).
export const LONG_NUMBER = 6

// What the rules find out about a segment: an id, a word of safe characters only, or a word to sanitize.
export const CLEAN = 0, DIRTY = 1, IDENTIFIER = 2
