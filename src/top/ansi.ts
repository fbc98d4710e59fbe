/**
 * The terminal escape sequences the live view uses, written out here rather than taken from a library. The
 * screen needs eleven fixed sequences and five colours; what the candidates would have added:
 * `log-update` 8 and `ink` 8 are ESM-only and need Node ≥ 22 (this package is CommonJS and supports Node 20),
 * ink also brings React and 22 more packages; `cli-table3` (CommonJS) draws boxed tables but knows nothing of
 * dropping columns or shortening in the middle, which is most of the layout code. None saves real code here.
 */

/** Switch to the alternate screen buffer (the shell's scrollback stays untouched) and back. */
export const ALT_SCREEN_ON = '\x1b[?1049h'
export const ALT_SCREEN_OFF = '\x1b[?1049l'
export const HIDE_CURSOR = '\x1b[?25l'
export const SHOW_CURSOR = '\x1b[?25h'
/** Auto-wrap off while the screen runs: a line the layout miscounts (a wide character) is cut, never scrolls the screen. */
export const WRAP_OFF = '\x1b[?7l'
export const WRAP_ON = '\x1b[?7h'
/** Cursor to the top-left corner. */
export const HOME = '\x1b[H'
/** Erase from the cursor to the end of the line, and to the end of the screen. */
export const CLEAR_LINE_END = '\x1b[K'
export const CLEAR_SCREEN_END = '\x1b[J'

/** The looks the layout asks for. */
export type Style = 'bold' | 'dim' | 'red' | 'boldRed' | 'yellow' | 'green' | 'inverse'

const SGR: Readonly<Record<Style, string>> = {
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  red: '\x1b[31m',
  boldRed: '\x1b[1;31m',
  yellow: '\x1b[33m',
  green: '\x1b[32m',
  inverse: '\x1b[7m',
}
const RESET = '\x1b[0m'

/** Wraps text in a style, or returns it as it is. */
export type Paint = (text: string, style: Style | undefined) => string

const plain: Paint = (text) => text
const coloured: Paint = (text, style) => (style === undefined || text === '' ? text : SGR[style] + text + RESET)

/**
 * The painter for a screen, chosen once: with colour off it is the identity, so plain output carries no
 * escape code at all.
 *
 * @example
 * painter(false)('0.0', 'dim') // '0.0'
 * painter(true)('12.5', 'red') // '\x1b[31m12.5\x1b[0m'
 */
export function painter(colour: boolean): Paint {
  return colour ? coloured : plain
}

/**
 * Colour when `stream` is a terminal and `NO_COLOR` is unset or empty (https://no-color.org: any non-empty
 * value turns colour off).
 *
 * @example
 * useColour(process.stdout, process.env)
 */
export function useColour(stream: { readonly isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '')
}
