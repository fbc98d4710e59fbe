/**
 * `statsdPublisher`: forwards entries to StatsD (or DogStatsD / Telegraf) through hot-shots. Counters go
 * aggregated per entry (one `increment` per series); timers go value by value so the StatsD server still
 * computes real percentiles. Delivery is at-least-once: UDP has no acknowledgement, and an entry
 * redelivered after an agent crash is sent again.
 *
 * Names are dotted: `[prefix.]<route>.<Metric>` (`shop.users.id.RequestTime`), `[prefix.]<Metric>` for
 * process metrics; every StatsD protocol character (`:|@#,=` and whitespace) becomes `_`. A name that would
 * come out as a standard metric without being it (`.Failure`, a timer `Failure`) is left out, counted as a
 * `name` drop (the app-side door's rule, `forgesStandard`); a line longer than a datagram loses its last tags,
 * counted as a `size` drop (the app-side sink's rule, `tagsThatFit`). This publisher still builds its lines
 * through hot-shots rather than `statsd-lines.ts`; only those two rules are shared.
 */
import StatsD from 'hot-shots'
import { forgesStandard, inRange } from '../collect/metric-rules.js'
import type { ErrorHandler } from '../sinks/sink.js'
import { tagsThatFit } from '../pipeline/statsd-lines.js'
import { forEachMetric } from '../pipeline/stream-encoding.js'
import { countDrop } from '../util/drops.js'
import { warningHandler } from '../util/warn.js'
import type { AgentEntry, Publisher } from './publisher.js'

export interface StatsdPublisherOptions {
  /** Default `127.0.0.1`. */
  host?: string
  /** Default 8125. */
  port?: number
  /** `udp` (default) or `tcp`. */
  protocol?: 'udp' | 'tcp'
  /** Added in front of every name, e.g. `web`. */
  prefix?: string
  /** Send method and dimensions as DogStatsD tags (`|#method:GET,service:shop`). Default false. */
  tags?: boolean
  /** Socket and DNS errors (they never reject `publish`: StatsD is fire-and-forget). Default: a `RouteMeterWarning` (README, Warnings). */
  onError?: ErrorHandler
}

const UNSAFE = /[:|@#,=\s]/g
const clean = (text: string): string => text.replace(UNSAFE, '_')
// Bytes per datagram hot-shots buffers up to (≈ one Ethernet MTU), and so the longest line we may hand it.
const MAX_DATAGRAM = 1400
// Longest `String(n)` of a finite number ('-1.2345678901234567e-300'), plus ':' and '|ms'.
const MAX_VALUE_PART = 24 + 4

/** Bytes hot-shots appends to every line on its own: global tags (DD_TAGS, DD_ENV, …) and DogStatsD extension fields. */
function hotShotsOverhead(client: object): number {
  const internals = client as unknown as { globalTags?: unknown, getDatadogExtensionFields?: () => unknown }
  let bytes = 0
  if (Array.isArray(internals.globalTags)) for (const tag of internals.globalTags) bytes += Buffer.byteLength(String(tag)) + 2
  const fields = typeof internals.getDatadogExtensionFields === 'function' ? internals.getDatadogExtensionFields() : []
  if (Array.isArray(fields)) for (const field of fields) bytes += Buffer.byteLength(String(field)) + 1
  return bytes
}

/**
 * A publisher sending to a StatsD server via hot-shots.
 *
 * @example
 * startAgent({ publishers: [statsdPublisher({ host: 'statsd.internal', port: 8125, prefix: 'web' })] })
 */
export function statsdPublisher(options: StatsdPublisherOptions = {}): Publisher {
  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? 8125
  if (typeof host !== 'string' || host === '') throw new TypeError('routemeter: statsdPublisher `host` must be a non-empty string')
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new TypeError('routemeter: statsdPublisher `port` must be a port number')
  const protocol = options.protocol ?? 'udp'
  if (protocol !== 'udp' && protocol !== 'tcp') throw new TypeError('routemeter: statsdPublisher `protocol` must be udp or tcp')
  const prefix = options.prefix === undefined || options.prefix === '' ? '' : clean(options.prefix).replace(/\.?$/, '.')
  const withTags = options.tags === true
  const onError: ErrorHandler = options.onError ?? warningHandler('RM_AGENT_STATSD', `StatsD ${host}:${port}: `)
  let warned = false
  const client = new StatsD({
    host, port, protocol,
    // Buffer into ≈ one Ethernet-MTU datagram per send instead of one packet per metric.
    maxBufferSize: 1400,
    bufferFlushInterval: 200,
    errorHandler: (error) => {
      // One warning per burst of socket errors is enough; the rest would be noise.
      if (warned) return
      warned = true
      setTimeout(() => { warned = false }, 10_000).unref()
      try { onError(new Error(`routemeter statsd ${host}:${port}: ${error.message}`)) } catch { /* hook must not throw into us */ }
    },
  })

  const budget = MAX_DATAGRAM - hotShotsOverhead(client)

  return {
    name: 'statsd',
    async publish(entries: readonly AgentEntry[]) {
      let badNames = 0
      let badValues = 0
      let cut = 0
      for (const entry of entries) {
        const { batch } = entry
        const names = new Map<number, { text: string, bytes: number }>()
        const tagsOf = new Map<number, { list: string[], bytes: number[], total: number }>()
        const forged = new Map<number, boolean>()
        const isForged = (nameIndex: number, type: 'counter' | 'timer'): boolean => {
          const key = nameIndex * 2 + (type === 'timer' ? 1 : 0)
          let found = forged.get(key)
          if (found === undefined) { found = forgesStandard(batch.strings[nameIndex], type); forged.set(key, found) }
          return found
        }
        const nameOf = (g: number, nameIndex: number): { text: string, bytes: number } => {
          const key = g * batch.strings.length + nameIndex
          let name = names.get(key)
          if (name === undefined) {
            const group = batch.groups[g]
            const text = prefix + (group.route === '' ? '' : clean(group.route) + '.') + clean(batch.strings[nameIndex])
            name = { text, bytes: Buffer.byteLength(text) }
            names.set(key, name)
          }
          return name
        }
        const tagsFor = (g: number): { list: string[], bytes: number[], total: number } | undefined => {
          if (!withTags) return undefined
          let tags = tagsOf.get(g)
          if (tags === undefined) {
            const group = batch.groups[g]
            const list: string[] = []
            if (group.method !== '') list.push(`method:${clean(group.method)}`)
            for (const key in group.dimensions) list.push(`${clean(key)}:${clean(group.dimensions[key])}`)
            const bytes = list.map((tag) => Buffer.byteLength(tag))
            tags = { list, bytes, total: bytes.reduce((sum, b) => sum + b + 1, 1) }
            tagsOf.set(g, tags)
          }
          return tags
        }
        // The tags that keep the line within a datagram; undefined (with no tags) or null (drop the line).
        const fit = (name: { text: string, bytes: number }, value: number, tags: { list: string[], bytes: number[], total: number } | undefined): string[] | undefined | null => {
          // Nearly every line is far below the budget: checked without formatting the value.
          if (name.bytes + MAX_VALUE_PART + (tags?.total ?? 0) <= budget) return tags?.list
          const n = tagsThatFit(name.bytes + String(value).length + 4, tags?.bytes ?? [], budget)
          if (n === (tags?.list.length ?? 0)) return tags?.list
          cut++
          return n < 0 ? null : tags!.list.slice(0, n)
        }
        forEachMetric(batch, (g, type, nameIndex, value) => {
          if (type !== 'timer') return
          if (isForged(nameIndex, 'timer')) { badNames++; return }
          if (!inRange(value)) { badValues++; return }
          const name = nameOf(g, nameIndex)
          const tags = fit(name, value, tagsFor(g))
          if (tags !== null) client.timing(name.text, value, tags)
        })
        const groupIndex = new Map(batch.groups.map((group, i) => [group, i]))
        for (const s of entry.series()) {
          if (s.type !== 'counter') continue
          const nameIndex = batch.strings.indexOf(s.name)
          if (isForged(nameIndex, 'counter')) { badNames++; continue }
          const g = groupIndex.get(s.group) as number
          const name = nameOf(g, nameIndex)
          const tags = fit(name, s.sum, tagsFor(g))
          if (tags !== null) client.increment(name.text, s.sum, tags)
        }
      }
      if (badNames > 0) countDrop('name', badNames)
      if (badValues > 0) countDrop('value', badValues)
      if (cut > 0) countDrop('size', cut)
    },
    close: () => new Promise<void>((resolve) => { client.close(() => resolve()) }),
  }
}
