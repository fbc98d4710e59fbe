/**
 * What the keys do to the live view, as a pure state machine: the screen splits each chunk stdin hands it
 * into keys and folds them through `press`.
 *
 *   s        the next sort (rps → p99 → cpu → errors → rps)
 *   /        edit the filter (starts from the current one; the table follows as you type)
 *     text     appended; Backspace removes the last character; Ctrl-U clears
 *     Enter    keeps it; Esc puts the previous filter back
 *   Esc      clears an applied filter
 *   q, Ctrl-C  quit (Ctrl-C also while editing)
 *
 * The filter is a case-insensitive substring of the route name.
 */
import { SORT_KEYS, type SortKey } from './snapshot.js'

export interface KeyState {
  readonly sort: SortKey
  /** The applied filter ('' for none). */
  readonly filter: string
  /** The filter being typed after `/`, or undefined when not editing. */
  readonly editing: string | undefined
}

/** What a key asks of the screen. */
export type KeyAction = 'redraw' | 'quit' | 'none'

const CTRL_C = '\x03'
const CTRL_U = '\x15'
const ESC = '\x1b'

/**
 * The view's state before any key: the sort from `--sort`, no filter.
 *
 * @example
 * initialKeys('p99') // { sort: 'p99', filter: '', editing: undefined }
 */
export function initialKeys(sort: SortKey): KeyState {
  return { sort, filter: '', editing: undefined }
}

/**
 * The filter the table shows now: the one being typed while editing, else the applied one.
 *
 * @example
 * activeFilter({ sort: 'rps', filter: 'api', editing: 'ord' }) // 'ord'
 */
export function activeFilter(state: KeyState): string {
  return state.editing ?? state.filter
}

/**
 * One key (as `splitKeys` returns it) applied to the state.
 *
 * @example
 * press(initialKeys('rps'), 's') // { state: { sort: 'p99', filter: '', editing: undefined }, action: 'redraw' }
 */
export function press(state: KeyState, key: string): { state: KeyState, action: KeyAction } {
  if (key === CTRL_C) return { state, action: 'quit' }
  if (state.editing !== undefined) return { state: edit(state, state.editing, key), action: 'redraw' }
  switch (key) {
    case 'q': return { state, action: 'quit' }
    case 's': return { state: { ...state, sort: nextSort(state.sort) }, action: 'redraw' }
    case '/': return { state: { ...state, editing: state.filter }, action: 'redraw' }
    case ESC: return state.filter === '' ? { state, action: 'none' } : { state: { ...state, filter: '' }, action: 'redraw' }
    default: return { state, action: 'none' }
  }
}

function edit(state: KeyState, text: string, key: string): KeyState {
  if (key === '\r' || key === '\n') return { ...state, filter: text, editing: undefined }
  if (key === ESC) return { ...state, editing: undefined }
  if (key === '\x7f' || key === '\b') return { ...state, editing: Array.from(text).slice(0, -1).join('') }
  if (key === CTRL_U) return { ...state, editing: '' }
  return printable(key) ? { ...state, editing: text + key } : state
}

/** Text, not a control key: arrows and function keys (escape sequences) and Ctrl-letters do nothing while editing. */
function printable(key: string): boolean {
  if (key === '') return false
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return false
  }
  return true
}

/**
 * The sort after `sort` in the order `s` cycles.
 *
 * @example
 * nextSort('errors') // 'rps'
 */
export function nextSort(sort: SortKey): SortKey {
  return SORT_KEYS[(SORT_KEYS.indexOf(sort) + 1) % SORT_KEYS.length]!
}

/**
 * A chunk of raw-mode stdin as keys: an escape sequence (`ESC [ … final`, `ESC O x`, `ESC x`) is one key, a
 * lone ESC is Esc, and every other character is a key of its own (a paste arrives as one chunk).
 *
 * @example
 * splitKeys('s\x1b[A/ab\r') // ['s', '\x1b[A', '/', 'a', 'b', '\r']
 */
export function splitKeys(chunk: string): string[] {
  const keys: string[] = []
  const chars = Array.from(chunk)
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] !== ESC || i + 1 === chars.length) { keys.push(chars[i]!); continue }
    const next = chars[i + 1]!
    if (next === ESC) { keys.push(ESC); continue }
    let end = i + 1
    if (next === '[') {
      // CSI: parameter and intermediate bytes (0x20–0x3f), then one final byte (0x40–0x7e).
      end = i + 2
      while (end < chars.length && chars[end]! >= ' ' && chars[end]! <= '?') end++
    } else if (next === 'O') {
      end = i + 2
    }
    keys.push(chars.slice(i, end + 1).join(''))
    i = end
  }
  return keys
}
