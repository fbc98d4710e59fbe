/**
 * The per-route table: which columns fit a terminal's width, and the visible rows as lines. Only the rows on
 * screen are formatted, so a redraw costs the same with 30 routes or 30,000.
 *
 *   route  method  req/s  p50 ms  p99 ms  CPU ms/req  CPU %  Fail %  4xx %  Abort %  last 20 s
 *
 * On a narrow terminal columns drop from the right (the sparkline first, then Abort %, 4xx %, Fail %, CPU %,
 * CPU ms/req, p50, method); route, req/s and p99 always stay. The route takes the width its longest visible
 * name needs, leaving the sparkline its minimum; a name longer than that is shortened in the middle.
 */
import type { Style } from './ansi.js'
import { formatMs, formatPct, formatRate, UNKNOWN } from './format.js'
import { shortenMiddle, type Line, type Segment } from './line.js'
import type { RouteRow } from './snapshot.js'
import { sparkline } from './sparkline.js'
import { showable } from '../util/printable.js'

export type ColumnKey = 'method' | 'rps' | 'p50' | 'p99' | 'cpuMean' | 'cpuShare' | 'failure' | 'clientError' | 'aborted'

/** A fixed-width column of the table. */
export interface Column {
  readonly key: ColumnKey
  readonly label: string
  /** Wide enough for the label and every value its formatter returns (see format.ts). */
  readonly width: number
  readonly align: 'left' | 'right'
  readonly cell: (row: RouteRow) => Segment
}

/** Two blanks between columns. */
const GAP = 2
/** The route column shrinks to this (or its longest name) before columns are dropped. */
const ROUTE_MIN = 12
/** The sparkline is dropped below this width. */
const SPARK_MIN = 8
/** Any Failure is red; from this share on, bold red. */
const FAILURE_ALARM_PCT = 5

const dimZero = (text: string, value: number): Segment => ({ text, style: value === 0 ? 'dim' : undefined })

/**
 * How a share of the requests is painted: none is dim; any Failure red (bold red from `FAILURE_ALARM_PCT`);
 * any ClientError or Aborted yellow.
 *
 * @example
 * pctStyle('failure', 7.5) // 'boldRed'
 */
export function pctStyle(kind: 'failure' | 'clientError' | 'aborted', pct: number): Style {
  if (pct === 0) return 'dim'
  if (kind === 'failure') return pct >= FAILURE_ALARM_PCT ? 'boldRed' : 'red'
  return 'yellow'
}

const share = (pct: number, kind: 'failure' | 'clientError' | 'aborted'): Segment => ({ text: formatPct(pct), style: pctStyle(kind, pct) })

const COLUMNS: readonly Column[] = [
  { key: 'method', label: 'method', width: 7, align: 'left', cell: (r) => ({ text: r.method }) },
  { key: 'rps', label: 'req/s', width: 6, align: 'right', cell: (r) => dimZero(formatRate(r.rps), r.rps) },
  { key: 'p50', label: 'p50 ms', width: 6, align: 'right', cell: (r) => time(r.p50) },
  { key: 'p99', label: 'p99 ms', width: 6, align: 'right', cell: (r) => time(r.p99) },
  { key: 'cpuMean', label: 'CPU ms/req', width: 10, align: 'right', cell: (r) => time(r.cpuMean) },
  { key: 'cpuShare', label: 'CPU %', width: 5, align: 'right', cell: (r) => dimZero(formatPct(r.cpuShare), r.cpuShare) },
  { key: 'failure', label: 'Fail %', width: 6, align: 'right', cell: (r) => share(r.failurePct, 'failure') },
  { key: 'clientError', label: '4xx %', width: 5, align: 'right', cell: (r) => share(r.clientErrorPct, 'clientError') },
  { key: 'aborted', label: 'Abort %', width: 7, align: 'right', cell: (r) => share(r.abortedPct, 'aborted') },
]

/** Right to left, but never route, req/s or p99. */
const DROP_ORDER: ReadonlyArray<ColumnKey | 'spark'> = [
  'spark', 'aborted', 'clientError', 'failure', 'cpuShare', 'cpuMean', 'p50', 'method',
]

function time(ms: number | undefined): Segment {
  const text = formatMs(ms)
  return { text, style: text === UNKNOWN ? 'dim' : undefined }
}

/** The columns chosen for one width, and the widths of the two flexible ones. */
export interface TableFit {
  readonly columns: readonly Column[]
  readonly routeWidth: number
  /** 0 when the sparkline is dropped. */
  readonly sparkWidth: number
}

/**
 * The columns that fit `width` for these rows: `longestRoute` and `sparkLength` are the longest route name and
 * the longest rate history among the rows on screen.
 *
 * @example
 * fitTable(60, 24, 20).columns.map((c) => c.label) // ['method', 'req/s', 'p50 ms', 'p99 ms', 'CPU ms/req']
 */
export function fitTable(width: number, longestRoute: number, sparkLength: number): TableFit {
  let columns = COLUMNS
  let spark = sparkLength > 0
  const wanted = Math.max(longestRoute, 'route'.length)
  // Short names need no more than their length: /r/1 … /r/9 leave their width to the columns.
  const routeMin = Math.min(ROUTE_MIN, wanted)
  const need = (): number => routeMin + fixedWidth(columns) + (spark ? GAP + Math.min(SPARK_MIN, sparkLength) : 0)
  for (const key of DROP_ORDER) {
    if (need() <= width) break
    if (key === 'spark') spark = false
    else columns = columns.filter((c) => c.key !== key)
  }
  const room = width - fixedWidth(columns) - (spark ? GAP : 0)
  // The sparkline keeps its minimum, the route then takes what its longest name needs, the sparkline the rest.
  const routeWidth = Math.max(1, Math.min(wanted, spark ? room - Math.min(SPARK_MIN, sparkLength) : room))
  const sparkWidth = spark ? Math.max(0, Math.min(sparkLength, room - routeWidth)) : 0
  return { columns, routeWidth, sparkWidth }
}

function fixedWidth(columns: readonly Column[]): number {
  let width = 0
  for (const column of columns) width += GAP + column.width
  return width
}

/**
 * The table's heading line for a fit.
 *
 * @example
 * tableHeading(fitTable(120, 20, 30))
 */
export function tableHeading(fit: TableFit): Line {
  let text = 'route'.padEnd(fit.routeWidth)
  for (const column of fit.columns) text += ' '.repeat(GAP) + pad(column.label, column.width, column.align)
  if (fit.sparkWidth > 0) {
    const label = `last ${fit.sparkWidth} s`
    text += ' '.repeat(GAP) + (label.length <= fit.sparkWidth ? label : 'rate'.slice(0, fit.sparkWidth))
  }
  return [{ text, style: 'bold' }]
}

/**
 * One route as a line of the table.
 *
 * @example
 * tableRow(fit, snapshot.routes[0])
 */
export function tableRow(fit: TableFit, row: RouteRow): Line {
  // Names come from the stream: a line break or an escape sequence in one would forge rows or drive the terminal.
  const line: Segment[] = [{ text: shortenMiddle(showable(row.route), fit.routeWidth).padEnd(fit.routeWidth) }]
  for (const column of fit.columns) {
    const cell = column.cell(row)
    const text = pad(shortenMiddle(showable(cell.text), column.width), column.width, column.align)
    line.push({ text: ' '.repeat(GAP) }, { text, style: cell.style })
  }
  if (fit.sparkWidth > 0) line.push({ text: ' '.repeat(GAP) }, { text: sparkline(row.spark, fit.sparkWidth), style: 'green' })
  return line
}

function pad(text: string, width: number, align: 'left' | 'right'): string {
  return align === 'left' ? text.padEnd(width) : text.padStart(width)
}
