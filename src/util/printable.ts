/*
 * Names and values in an agent's output come from the stream, so from any app that can write to it (an explicit
 * route, a framework template) or from anyone who can write to Redis. What the output's reader would take for
 * something else is replaced before it is written.
 */

const LONE_SURROGATE = /[\uD800-\uDFFF]/u
const LONE_SURROGATES = /[\uD800-\uDFFF]/gu
// C0 controls (line breaks, tab, ESC), DEL and C1 controls (0x9b is a one-byte CSI to some terminals), and lone
// surrogates, which UTF-8 cannot carry.
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const UNSHOWABLE = /[\0-\x1f\x7f-\x9f]|[\uD800-\uDFFF]/u
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const UNSHOWABLES = /[\0-\x1f\x7f-\x9f]|[\uD800-\uDFFF]/gu

/**
 * `text` with each lone surrogate replaced by U+FFFD, as Node writes it in UTF-8 anyway: two strings that differ
 * only there are written alike, so whoever keys output by the string must key it by this one (two Prometheus
 * series with one label text: Prometheus kept one of them).
 *
 * @example
 * wellFormed('a\ud800') // 'a\ufffd'
 */
export function wellFormed(text: string): string {
  return LONE_SURROGATE.test(text) ? text.replace(LONE_SURROGATES, '\uFFFD') : text
}

/**
 * `text` for a terminal: every control character and lone surrogate becomes U+FFFD, one column each, so a name
 * cannot break a table's line, move the cursor or retitle the window (`\x1b]0;…\x07`).
 *
 * @example
 * showable('evil\nFAKE-ROW') // 'evil\ufffdFAKE-ROW'
 */
export function showable(text: string): string {
  return UNSHOWABLE.test(text) ? text.replace(UNSHOWABLES, '\uFFFD') : text
}
