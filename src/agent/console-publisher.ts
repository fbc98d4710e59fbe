/**
 * `consolePublisher`: prints what the agent moves, for a first look or debugging. Table mode prints one
 * block per read (all entries merged) with a row per route and method, p50 and p99 from the merged
 * sketches; `json: true` prints one JSON line per series per entry, ready for `jq`.
 */
import type { Writable } from 'node:stream'
import { Sketch } from '../wire/sketch.js'
import { optionChecks, optionsObject } from '../util/option-check.js'
import type { AgentEntry, Publisher, Series } from './publisher.js'

export interface ConsolePublisherOptions {
  /** JSON lines instead of a table. Default false. */
  json?: boolean
  /** Where to write. Default `process.stdout`. */
  output?: Pick<Writable, 'write'>
}

/**
 * A publisher that writes to stdout.
 *
 * @example
 * startAgent({ publishers: [consolePublisher()] })            // table
 * startAgent({ publishers: [consolePublisher({ json: true })] }) // {"id":"…","measurement":"RequestTime",…}
 */
export function consolePublisher(options?: ConsolePublisherOptions): Publisher {
  const o = optionsObject('consolePublisher', options)
  const check = optionChecks('consolePublisher')
  const output = o.output ?? process.stdout
  if (typeof output?.write !== 'function') check.fail('output', 'a writable stream (an object with write(text))', output)
  const json = check.boolean('json', o.json, false)
  return {
    name: 'console',
    async publish(entries) {
      const text = json ? jsonLines(entries) : table(entries)
      if (text !== '') output.write(text)
    },
    async close() {},
  }
}

function jsonLines(entries: readonly AgentEntry[]): string {
  let out = ''
  for (const entry of entries) {
    for (const s of entry.series()) {
      out += JSON.stringify({
        id: entry.id, measurement: s.name, type: s.type, kind: s.group.kind, prefix: s.group.prefix,
        route: s.group.route, method: s.group.method, dimensions: s.group.dimensions, status_class: s.statusClass,
        count: s.count, sum: s.sum, min: s.min, max: s.max,
        ...(s.sketch === undefined ? {} : { p50: s.sketch.quantile(0.5), p90: s.sketch.quantile(0.9), p99: s.sketch.quantile(0.99) }),
      }) + '\n'
    }
  }
  return out
}

interface Row {
  route: string
  method: string
  requests: number
  time: Series | undefined
  failures: number
  clientErrors: number
  /** RequestTime of every entry merged; undefined once a series came without a sketch. */
  sketch: Sketch | undefined
}

function table(entries: readonly AgentEntry[]): string {
  const rows = new Map<string, Row>()
  for (const entry of entries) {
    for (const s of entry.series()) {
      if (s.group.kind !== 'request') continue
      const key = s.group.route + ' ' + s.group.method
      let row = rows.get(key)
      if (row === undefined) {
        const { route, method } = s.group
        row = { route, method, requests: 0, time: undefined, sketch: new Sketch(), failures: 0, clientErrors: 0 }
        rows.set(key, row)
      }
      if (s.name === 'RequestTime' && s.type === 'timer') {
        row.requests += s.count
        // Into the row's own sketch: the series' sketches are shared with the other publishers.
        if (s.sketch !== undefined) row.sketch?.merge(s.sketch)
        else row.sketch = undefined
        if (row.time === undefined) row.time = { ...s }
        else {
          row.time.count += s.count
          row.time.sum += s.sum
          row.time.min = Math.min(row.time.min, s.min)
          row.time.max = Math.max(row.time.max, s.max)
        }
      } else if (s.name === 'Failure') row.failures += s.sum
      else if (s.name === 'ClientError') row.clientErrors += s.sum
    }
  }
  if (rows.size === 0) return ''
  const header = ['route', 'method', 'requests', 'avg ms', 'p50 ms', 'p99 ms', 'max ms', '5xx', '4xx']
  const q = (r: Row, at: number): string => (r.sketch === undefined || r.sketch.count === 0 ? '-' : r.sketch.quantile(at).toFixed(2))
  const body = [...rows.values()].sort((a, b) => b.requests - a.requests).map((r) => [
    r.route, r.method, String(r.requests),
    r.time === undefined ? '-' : (r.time.sum / r.time.count).toFixed(2),
    q(r, 0.5), q(r, 0.99),
    r.time === undefined ? '-' : r.time.max.toFixed(2),
    String(r.failures), String(r.clientErrors),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()
  return [line(header), ...body.map(line)].join('\n') + '\n\n'
}
