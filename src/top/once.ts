/**
 * What `routemeter top --once` prints: one snapshot as text (a header, then every route as a row of the live
 * view's table, the same columns and number formats), or with `--json` as one JSON object.
 */
import { painter, type Style } from './ansi.js'
import { formatCount, formatMs, formatPct, formatRate, formatWindow, UNKNOWN } from './format.js'
import { render, type Line } from './line.js'
import type { Snapshot } from './snapshot.js'
import { fitTable, pctStyle, tableHeading, tableRow } from './table.js'
import { showable } from '../util/printable.js'

/** Options of {@link formatTable}. */
export interface TableOptions {
  /** ANSI colour (the live view's styles). */
  readonly colour: boolean
  /**
   * Characters per line: columns drop and route names are shortened in the middle to fit, as on the live
   * screen. Absent (output to a pipe or file): every column, every name whole.
   */
  readonly width?: number
}

/**
 * The snapshot as one JSON object and a newline. A figure that is unknown (`lag` on Redis before 7.0, `p99` of a
 * route without timings) is `null`, not left out, so every object has the same keys.
 *
 * @example
 * process.stdout.write(formatJson(snapshot))
 */
export function formatJson(snapshot: Snapshot): string {
  return JSON.stringify(snapshot, (_key, value: unknown) => (value === undefined ? null : value)) + '\n'
}

/**
 * The snapshot as text: what is read and when, the totals, the pipeline's health, then a row per route in the
 * snapshot's order; or, with nothing in the window, a line saying so.
 *
 * @example
 * process.stdout.write(formatTable(snapshot, { colour: useColour(process.stdout, process.env), width: process.stdout.columns }))
 */
export function formatTable(snapshot: Snapshot, options: TableOptions): string {
  const s = snapshot
  const t = s.totals
  const state: Line = s.state === 'up'
    ? [{ text: 'up', style: 'green' }]
    : [{ text: `${s.state}${s.lastError === undefined ? '' : ` (${s.lastError})`}`, style: 'yellow' }]
  const lines: Line[] = [
    joined([
      [{ text: 'routemeter top', style: 'bold' }], [{ text: `stream ${s.stream}` }], state,
      [{ text: `window ${formatWindow(s.windowMs)}` }], [{ text: `sort ${s.sort}` }],
      [{ text: new Date(s.at).toISOString(), style: 'dim' }],
    ]),
    joined([
      [{ text: formatCount(t.requests), style: 'bold' }, { text: ' requests' }],
      [{ text: formatRate(t.rps), style: 'bold' }, { text: ' req/s' }],
      share('Fail', t.failurePct, pctStyle('failure', t.failurePct)),
      share('4xx', t.clientErrorPct, pctStyle('clientError', t.clientErrorPct)),
      share('Abort', t.abortedPct, pctStyle('aborted', t.abortedPct)),
      [{ text: `CPU ${formatMs(t.cpuMs)} ms` }],
    ]),
    joined([
      [{ text: `processes ${formatCount(s.processes)}` }], [{ text: `lag ${formatCount(s.lag)}` }],
      [{ text: `stream length ${formatCount(s.streamLength)}` }],
      ...Object.keys(s.dropped).sort().filter((reason) => s.dropped[reason] !== 0)
        .map((reason): Line => [{ text: `dropped ${showable(reason)} ${formatCount(s.dropped[reason])}`, style: 'yellow' }]),
      ...(s.unreadable === undefined ? [] : [[{ text: `unreadable entries ${formatCount(s.unreadable)}`, style: 'yellow' as Style }]]),
    ]),
    [],
  ]
  if (s.empty) {
    lines.push([{
      text: s.streamLength === undefined || s.streamLength === 0
        ? `no entries yet in stream ${s.stream}: is an app writing to it (redisSink)?`
        : `no entries in the last ${formatWindow(s.windowMs)} in stream ${s.stream} (it holds ${formatCount(s.streamLength)} older ones)`,
    }])
  } else {
    let longestRoute = 0
    let sparkLength = 0
    for (const row of s.routes) {
      longestRoute = Math.max(longestRoute, [...row.route].length)
      sparkLength = Math.max(sparkLength, row.spark.length)
    }
    // Without a width, room for everything: the route takes its longest name, the sparkline its whole history.
    const fit = fitTable(options.width ?? longestRoute + 200, longestRoute, sparkLength)
    lines.push(tableHeading(fit), ...s.routes.map((row) => tableRow(fit, row)))
  }
  const paint = painter(options.colour)
  return lines.map((line) => render(line, paint).trimEnd()).join('\n') + '\n'
}

function joined(items: readonly Line[]): Line {
  return items.flatMap((item, i) => (i === 0 ? item : [{ text: ' · ', style: 'dim' as Style }, ...item]))
}

function share(label: string, pct: number, style: Style): Line {
  const text = formatPct(pct)
  return [{ text: `${label} ` }, { text: text === '0' || text === UNKNOWN ? text : `${text}%`, style }]
}
