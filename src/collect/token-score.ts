import {
  AT, CLASS, CLEAN, DASH, DIGIT, DIRTY, DOT, IDENTIFIER, LONG_NUMBER, LOWER, NOT_CROCKFORD, PLUS, SAFE, SEP, TABLE, UPPER, VOWEL,
} from './char-class.js'

// Random-token scoring: the last whole-segment rule of segment-shape.ts, for segments of 8+ characters.

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
 *
 * @example
 * classifyLong('dQw4w9WgXcQ', 0, 11) // IDENTIFIER
 * classifyLong('getting-started', 0, 15) // CLEAN
 */
export function classifyLong(s: string, start: number, end: number): number {
  const n = end - start
  let digits = 0, digitRun = 0, longNumber = false, upper = 0, lower = 0, dirty = false
  let crockford = true, at = -1, lastDot = -1
  let prev = SEP, upperRun = 0, changes = 0, digitSuffix = false
  let consonants = 0, maxConsonants = 0, upperConsonants = 0, partUpperConsonants = 0
  let partLength = 0, partDigitRuns = 0, partUpper = false, partLower = false, splitDigitsPart = false
  for (let i = start; i <= end; i++) {
    const c = i < end ? s.charCodeAt(i) : -1
    const f = c >= 0 && c < 128 ? TABLE[c] : 0
    const k = f & CLASS
    if (k === SEP) {
      if (i < end) {
        crockford = false
        if ((f & SAFE) === 0) dirty = true
        if (c === AT) {
          if (at < 0) at = i - start
        } else if (c === DOT) lastDot = i - start
      }
      if (prev !== SEP) {
        if (prev === DIGIT && digitSuffix) changes--
        if (partLength >= 10 && partDigitRuns >= 2 && !(partUpper && partLower)) splitDigitsPart = true
        if (!partLower && partUpperConsonants > maxConsonants) maxConsonants = partUpperConsonants
        partLength = partDigitRuns = partUpperConsonants = 0
        partUpper = partLower = false
      }
      prev = SEP
      upperRun = consonants = upperConsonants = digitRun = 0
      digitSuffix = false
      continue
    }
    partLength++
    if ((f & NOT_CROCKFORD) !== 0) crockford = false
    if (k === DIGIT) {
      digits++
      if (++digitRun >= LONG_NUMBER) longNumber = true
      consonants = upperConsonants = 0
      if (prev !== DIGIT) partDigitRuns++
    } else if (k === UPPER) {
      digitRun = 0
      upper++
      partUpper = true
      consonants = 0
      if ((f & VOWEL) !== 0) upperConsonants = 0
      else if (++upperConsonants > partUpperConsonants) partUpperConsonants = upperConsonants
    } else {
      digitRun = 0
      lower++
      partLower = true
      upperConsonants = 0
      if ((f & VOWEL) !== 0) consonants = 0
      else if (++consonants > maxConsonants) maxConsonants = consonants
    }
    if (prev !== SEP && k !== prev && !(prev === UPPER && k === LOWER && upperRun === 1)) {
      changes++
      digitSuffix = k === DIGIT
    }
    upperRun = k === UPPER ? upperRun + 1 : 0
    prev = k
  }

  const verdict = dirty ? DIRTY : CLEAN
  if (longNumber) return IDENTIFIER
  // ULID: Crockford base32, and a 48-bit timestamp caps the first character at 7.
  if (n === 26 && crockford && s.charCodeAt(start) <= 55) return IDENTIFIER
  if (digits >= 8 && isIsoDate(s, start, end)) return IDENTIFIER
  if (at > 0 && lastDot > at + 1 && lastDot < n - 1) return IDENTIFIER
  const alnum = digits + upper + lower
  if (alnum >= 10 && digits > 0 && upper > 0 && lower > 0 && changes * 2 >= alnum) return IDENTIFIER
  if (alnum >= 16 && (digits > 0 || upper > 0)) {
    if (changes * 4 >= alnum || maxConsonants >= 6 || splitDigitsPart) return IDENTIFIER
  }
  return verdict
}

/** `YYYY-MM-DD`, optionally followed by `T` (or a space) and a time made of digits and `:.+-Z`. */
function isIsoDate(s: string, start: number, end: number): boolean {
  const n = end - start
  if (n < 10 || n === 11) return false
  for (let i = 0; i < 10; i++) {
    const c = s.charCodeAt(start + i)
    if (i === 4 || i === 7 ? c !== DASH : c < 48 || c > 57) return false
  }
  if (n === 10) return true
  const t = s.charCodeAt(start + 10)
  if (t !== 84 && t !== 116 && t !== 32) return false
  for (let i = start + 11; i < end; i++) {
    const c = s.charCodeAt(i)
    if (!(c >= 48 && c <= 58) && c !== DOT && c !== PLUS && c !== DASH && c !== 90 && c !== 122) return false
  }
  return true
}
