/**
 * Value shapes of one path segment: the per-segment rules of `normalizePath` (normalize-path.ts splits the
 * path; this file decides what each segment is). A segment is `id` when its shape says it holds a value,
 * else it is kept as a word with every character outside `[A-Za-z0-9_-]` replaced by `_`.
 *
 *   segment ─▶ percent-decode (malformed escape → `id`) ─▶ longer than MAX_SEGMENT_LENGTH → `id`
 *     ─▶ parts scan (one pass): non-ASCII, free-text characters, an encoded `/` → `id`; numbers joined by
 *        `-_.`, release versions, hex or letter-digit ids inside a part, grouped codes → `id`
 *     ─▶ whole-segment rules: numbers, UUIDs, hex runs, ULIDs, dates, random tokens → `id`
 *     ─▶ else the sanitized word
 *
 * Every rule reads letters, digits and how they are grouped, never the separators themselves (beyond
 * free-text characters, which make an `id`), so a kept word classifies the same after sanitizing: a name fed
 * back in as a path keeps its segments (tested as a property).
 */

/**
 * Longest segment kept as a word, in characters. A longer segment is `id`: no route word is that long, and
 * a StatsD line or an InfluxDB tag stays short.
 *
 * @example
 * normalizePath('/' + 'a'.repeat(100)) // 'id'
 */
export const MAX_SEGMENT_LENGTH = 64

import {
  AT, CLASS, CLEAN, DIGIT, DIRTY, DOT, DASH, FREE, HEX, IDENTIFIER, LONG_NUMBER, SAFE, SEP, TABLE, UPPER,
} from './char-class.js'
import { classifyLong } from './token-score.js'

const ID = 'id'

// A part of letters and digits (between separators) of at least this many characters, all hex and with both,
// is an id: short SHAs (`da39a3e`), `abc123`, `a1b2c3`, a pod's `5d78c9869d`, a build hash in `app.3f2a1b9c.js`.
// Words made only of a-f letters and digits are rare (`ed25519` is the one false positive found).
const HEX_PART = 6
// Letter↔digit changes inside one part that make it an id (`x7k2p9`, `B00I8BIC9E`, `7g2hk5m8tt`): words
// change at most twice (`k8s`, `i18n`, `utf8mb4`); versions (`v1beta1`) are exempt.
const PART_CHANGES = 3
// Parts of one length (4+) that each hold a digit, this many of them, make a grouped code
// (`GHSA-pj59-32mm-8cc4`, licence keys); `utf8-mb4-html5-css3` mixes lengths and stays a word.
const CODE_PARTS = 3
const VERSION_PART = /^v\d+(?:alpha|beta)\d*$/i
// Length of the part after a prefix (`cus_`, `acct_`) from which a case-flipping part is an id.
const PREFIXED_TAIL = 12

/**
 * The token of the segment `s[start, end)` (no `%`, non-empty): `''` when dropped (`.`), `id`, or the
 * sanitized word. Works on indices so the common clean word costs one scan and one slice.
 *
 * @example
 * segmentToken('/users/42', 7, 9) // 'id'
 * segmentToken('/report.pdf', 1, 11) // 'report_pdf'
 */
export function segmentToken(s: string, start: number, end: number): string {
  if (end - start === 1 && s.charCodeAt(start) === DOT) return ''
  const verdict = classify(s, start, end)
  if (verdict === IDENTIFIER) return ID
  if (verdict === CLEAN) return s.slice(start, end)
  return sanitize(s, start, end)
}

/**
 * {@link segmentToken} of a raw segment that holds a `%`: decoded first. A malformed escape (`%zz`, a
 * truncated UTF-8 sequence, an encoded lone surrogate) is `id`: no route word is written that way.
 *
 * @example
 * decodedSegmentToken('hello%20world') // 'id'
 * decodedSegmentToken('%41%42%43') // 'ABC'
 */
export function decodedSegmentToken(raw: string): string {
  let text: string
  // decodeURIComponent is native and fast, but throws URIError on a malformed escape.
  try {
    text = decodeURIComponent(raw)
  } catch {
    return ID
  }
  return text.length === 0 ? '' : segmentToken(text, 0, text.length)
}

/**
 * Answers `IDENTIFIER`, `CLEAN` (only `[A-Za-z0-9_-]`) or `DIRTY` for the segment `s[start, end)` (no `%`,
 * non-empty). Most segments are short words or numbers, and most long ones are hex ids or words, so cheap
 * checks go first (A/B measured on typical paths: ~290 instead of ~390 ns/call).
 *
 * @example
 * classify('/users/42', 7, 9) === IDENTIFIER // true
 */
export function classify(s: string, start: number, end: number): number {
  const n = end - start
  // The two commonest ids first, each an id whatever the later rules say: a number stops the digit scan at
  // its end, a word at its first letter; a UUID is recognised by one pass instead of three.
  if (n > MAX_SEGMENT_LENGTH || allDigits(s, start, end) || (n === 36 && isUuid(s, start)) || scanParts(s, start, end)) return IDENTIFIER
  // Every rule but numbers and emails needs 8+ characters.
  if (n < 8) return classifyShort(s, start, end)
  if (isHexId(s, start, end)) return IDENTIFIER
  return classifyLong(s, start, end)
}

/**
 * One pass over the parts of a segment (runs of letters and digits between any other characters). True
 * when the segment is an id by: a non-ASCII or free-text character; numbers joined by `-`, `_` or `.`
 * (`123-456`, `10.96.23.161`, `2024-01`); a release version (`1.2.3`, `v14.3.9-ee`: a number or `v` and a
 * number, then two more numbers; `v1.2` stays a word); a hex part of {@link HEX_PART}+ characters with letters
 * and digits; a part with {@link PART_CHANGES}+ letter↔digit changes; {@link CODE_PARTS} digit-holding parts
 * of one length.
 */
function scanParts(s: string, start: number, end: number): boolean {
  let parts = 0, numberParts = 0, numberRun = 0, releaseRun = 0, codeLength = 0, codeCount = 0, prefixed = false
  let length = 0, digits = 0, upper = 0, hex = true, changes = 0, caseChanges = 0, prev = SEP
  for (let i = start; i <= end; i++) {
    const c = i < end ? s.charCodeAt(i) : -1
    if (c >= 128) return true
    const f = c >= 0 ? TABLE[c] : 0
    if ((f & FREE) !== 0 && !(c === AT && i === start)) return true
    const k = f & CLASS
    if (k !== SEP) {
      length++
      if (k === DIGIT) digits++
      else if (k === UPPER) upper++
      if ((f & HEX) === 0) hex = false
      if (prev !== SEP && (prev === DIGIT) !== (k === DIGIT)) changes++
      else if (prev !== SEP && prev !== k) caseChanges++
      prev = k
      continue
    }
    if (length > 0) {
      const letters = length - digits
      if (digits > 0 && letters > 0) {
        if (hex && length >= HEX_PART) return true
        if (changes >= PART_CHANGES && !VERSION_PART.test(s.slice(i - length, i))) return true
      }
      // A prefixed random id (`cus_AzlmPRguEcuaOQ`): a short lower-case prefix, then a long part whose case
      // flips like random text (camelCase after a prefix, `get_userProfile`, flips twice).
      if (prefixed && length >= PREFIXED_TAIL && upper >= 3 && caseChanges + changes >= 4) return true
      prefixed = parts === 0 && letters === length && upper === 0 && length >= 2 && length <= 8
      // An IPv4 address inside a name (`ip-10-0-12-34.ec2.internal`).
      numberRun = letters === 0 ? numberRun + 1 : 0
      if (numberRun >= 4) return true
      if (digits > 0 && length >= 4) {
        if (codeLength === 0) codeLength = length
        if (length === codeLength && ++codeCount >= CODE_PARTS) return true
      }
      // A release version: the first part a number or `v` + number, then numbers.
      if (parts === 0) releaseRun = letters === 0 || (letters === 1 && (s.charCodeAt(i - length) | 32) === 118) ? 1 : 0
      else if (releaseRun > 0 && letters === 0 && releaseRun === parts) releaseRun++
      if (letters === 0) numberParts++
      parts++
      length = digits = upper = changes = caseChanges = 0
      hex = true
      prev = SEP
    }
  }
  return (parts >= 2 && numberParts === parts) || releaseRun >= 3
}

function classifyShort(s: string, start: number, end: number): number {
  let digits = 0, digitRun = 0, dirty = false, at = -1, lastDot = -1
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i)
    const f = c < 128 ? TABLE[c] : 0
    if ((f & CLASS) === DIGIT) {
      digits++
      if (++digitRun >= LONG_NUMBER) return IDENTIFIER
      continue
    }
    digitRun = 0
    if ((f & SAFE) === 0) {
      dirty = true
      if (c === AT) {
        if (at < 0) at = i
      } else if (c === DOT) lastDot = i
    }
  }
  if (digits === end - start || (at > start && lastDot > at + 1 && lastDot < end - 1)) return IDENTIFIER
  return dirty ? DIRTY : CLEAN
}

function allDigits(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/** 8+ hex characters with at least one digit: ObjectIds, undashed UUIDs, hashes, and long integers. */
function isHexId(s: string, start: number, end: number): boolean {
  let digit = false
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i)
    const f = c < 128 ? TABLE[c] : 0
    // A word leaves at its first letter past `f`, usually within three characters.
    if ((f & HEX) === 0) return false
    if ((f & CLASS) === DIGIT) digit = true
  }
  return digit
}

/** `8-4-4-4-12` hex digits, any case; the caller checked the length is 36. */
function isUuid(s: string, start: number): boolean {
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(start + i)
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== DASH) return false
    } else if (!(c < 128 && (TABLE[c] & HEX) !== 0)) return false
  }
  return true
}

/** Keeps `[A-Za-z0-9_-]` of `s[start, end)`, turns every other UTF-16 unit into `_`, caps the length. */
function sanitize(s: string, start: number, end: number): string {
  const stop = end - start > MAX_SEGMENT_LENGTH ? start + MAX_SEGMENT_LENGTH : end
  let out = ''
  for (let i = start; i < stop; i++) {
    const c = s.charCodeAt(i)
    out += c < 128 && (TABLE[c] & SAFE) !== 0 ? s[i] : '_'
  }
  return out
}
