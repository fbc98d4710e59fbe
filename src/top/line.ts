/**
 * A screen line as styled pieces of plain text. The layout measures, pads and cuts the plain text, and paints
 * it only at the end, so colour never enters a width computation and plain output carries no escape code.
 *
 * Width is counted in UTF-16 code units, which is one terminal column for everything the view prints itself
 * (ASCII, `…`, `–`, `·`, the bars) and for route names in Latin, Greek, Cyrillic…; a double-width or astral
 * character in a route name is miscounted, and the screen turns auto-wrap off so that can only cut a line.
 */
import type { Paint, Style } from './ansi.js'

export interface Segment {
  readonly text: string
  readonly style?: Style | undefined
}
export type Line = readonly Segment[]

/**
 * The columns a line takes.
 *
 * @example
 * lineWidth([{ text: 'req/s ' }, { text: '12', style: 'bold' }]) // 8
 */
export function lineWidth(line: Line): number {
  let width = 0
  for (const segment of line) width += segment.text.length
  return width
}

/**
 * The line cut to `width` columns.
 *
 * @example
 * cut([{ text: 'abc' }, { text: 'def', style: 'red' }], 4) // [{ text: 'abc' }, { text: 'd', style: 'red' }]
 */
export function cut(line: Line, width: number): Line {
  if (lineWidth(line) <= width) return line
  const out: Segment[] = []
  let room = width
  for (const segment of line) {
    if (room <= 0) break
    out.push(segment.text.length <= room ? segment : { text: segment.text.slice(0, room), style: segment.style })
    room -= segment.text.length
  }
  return out
}

/**
 * The line as the terminal gets it: trailing blanks dropped, each piece painted.
 *
 * @example
 * render([{ text: 'Fail ' }, { text: '3.1', style: 'red' }, { text: '  ' }], painter(false)) // 'Fail 3.1'
 */
export function render(line: Line, paint: Paint): string {
  let last = line.length - 1
  while (last >= 0 && line[last]!.text.trim() === '') last--
  let out = ''
  for (let i = 0; i <= last; i++) {
    const segment = line[i]!
    out += paint(i === last ? segment.text.trimEnd() : segment.text, segment.style)
  }
  return out
}

/**
 * `text` in at most `width` columns, shortened in the middle with `…` when longer: the start of a route says
 * which API it is, the end which resource, and the middle is usually the part they share. The end keeps the
 * extra character when the halves are uneven.
 *
 * @example
 * shortenMiddle('/api/v1/customers/:id/orders', 15) // '/api/v1…/orders'
 */
export function shortenMiddle(text: string, width: number): string {
  if (text.length <= width) return text
  if (width <= 1) return '…'.slice(0, width)
  // By code point, so a surrogate pair is never split in two.
  const chars = Array.from(text)
  if (chars.length <= width) return text
  const head = Math.floor((width - 1) / 2)
  const tail = width - 1 - head
  return chars.slice(0, head).join('') + '…' + chars.slice(chars.length - tail).join('')
}
