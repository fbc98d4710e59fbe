/**
 * `consolePublisher`: prints what the agent moves, for a first look or debugging. Table mode prints one
 * block per read (all entries merged) with a row per route and method, p50 and p99 from the merged
 * sketches; `json: true` prints one JSON line per series per entry, ready for `jq`.
 *
 * `publish` resolves once the output took the text: when `write()` returns false (the stream is above its
 * highWaterMark: a pipe to a slow reader), only at `'drain'`. The agent acks and reads no more until then, so
 * `routemeter agent --console | slow-reader` holds entries in Redis, not text in the agent's memory.
 */
import type { Writable } from 'node:stream'
import { Sketch } from '../wire/sketch.js'
import { optionChecks, optionsObject } from '../util/option-check.js'
import { showable } from '../util/printable.js'
import { PublishError, type AgentEntry, type Publisher, type Series } from './publisher.js'

/**
 * Where the console publisher writes: any `Writable`, or a plain object with `write(text)`. Without `once`
 * and `removeListener` it cannot say when it drained, so `publish` never waits for it.
 *
 * @example
 * const lines: string[] = []
 * consolePublisher({ output: { write: (text) => lines.push(text) > 0 } })
 */
export type ConsoleOutput = Pick<Writable, 'write'> & Partial<Pick<Writable, 'once' | 'removeListener' | 'destroyed' | 'writable'>>

export interface ConsolePublisherOptions {
  /** JSON lines instead of a table. Default false. */
  json?: boolean
  /** Where to write. Default `process.stdout`. */
  output?: ConsoleOutput
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
      if (text === '') return
      if (output.destroyed === true || output.writable === false) throw outputGone(undefined)
      // `!== false`: a plain object's write may return nothing; only a stream's explicit false is back-pressure.
      if (output.write(text) !== false || typeof output.once !== 'function' || typeof output.removeListener !== 'function') return
      await drained(output as Required<ConsoleOutput>)
    },
    async close() {},
  }
}

/**
 * Resolves at `'drain'` (or `'finish'`: ended, and all of it flushed); rejects at `'error'` or `'close'`, so an
 * output destroyed while full (EPIPE: the reader went away) fails the publish instead of hanging it.
 *
 * Why a retryable PublishError, not a resolve: the text the dead output had buffered was never shown, and the
 * agent's contract is to ack only what every publisher took. `permanent: false` keeps those entries unacked
 * (the agent warns once, retries with backoff; `stop()` leaves them pending for another agent) and dead-letters
 * nothing: the data is fine, the backend is gone, as with an unreachable InfluxDB. An unknown error would
 * count deliveries and dead-letter good entries at maxDeliveries; a resolve would ack entries nobody saw.
 * A stream destroyed without `'close'` (`emitClose: false`) is not detected while waiting; the next publish is.
 */
function drained(output: Required<ConsoleOutput>): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error): void => {
      output.removeListener('drain', onDrain)
      output.removeListener('finish', onDrain)
      output.removeListener('error', onError)
      output.removeListener('close', onClose)
      if (error === undefined) resolve()
      else reject(outputGone(error))
    }
    const onDrain = (): void => settle()
    const onError = (error: Error): void => settle(error)
    const onClose = (): void => settle(new Error('closed'))
    output.once('drain', onDrain)
    output.once('finish', onDrain)
    output.once('error', onError)
    output.once('close', onClose)
  })
}

function outputGone(cause: Error | undefined): PublishError {
  const why = cause === undefined ? 'no longer writable' : cause.message
  return new PublishError(`console: the output is gone (${why}); the entries stay unacked`, { permanent: false, cause })
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
    // A name with a line break or an escape sequence would forge rows or drive the terminal.
    showable(r.route), showable(r.method), String(r.requests),
    r.time === undefined ? '-' : (r.time.sum / r.time.count).toFixed(2),
    q(r, 0.5), q(r, 0.99),
    r.time === undefined ? '-' : r.time.max.toFixed(2),
    String(r.failures), String(r.clientErrors),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()
  return [line(header), ...body.map(line)].join('\n') + '\n\n'
}
