/**
 * `statsdPublisher`: forwards entries to StatsD (or DogStatsD / Telegraf) through hot-shots. Counters go
 * aggregated per entry (one `increment` per series); timers go value by value so the StatsD server still
 * computes real percentiles. Delivery is at-least-once: UDP has no acknowledgement, and an entry
 * redelivered after an agent crash is sent again.
 *
 * Names are dotted: `[prefix.]<route>.<Metric>` (`shop.users.id.RequestTime`), `[prefix.]<Metric>` for
 * process metrics; every StatsD protocol character (`:|@#,=` and whitespace) becomes `_`.
 */
import StatsD from 'hot-shots'
import type { ErrorHandler } from '../sinks/sink.js'
import { forEachMetric } from '../pipeline/stream-encoding.js'
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
  /** Socket and DNS errors (they never reject `publish`: StatsD is fire-and-forget). Default: `process.emitWarning`. */
  onError?: ErrorHandler
}

const UNSAFE = /[:|@#,=\s]/g
const clean = (text: string): string => text.replace(UNSAFE, '_')

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
  const onError: ErrorHandler = options.onError ?? ((error) => process.emitWarning(error.message, { code: 'ROUTEMETER_STATSD' }))
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

  return {
    name: 'statsd',
    async publish(entries: readonly AgentEntry[]) {
      for (const entry of entries) {
        const { batch } = entry
        const names = new Map<number, string>()
        const tagsOf = new Map<number, string[] | undefined>()
        const nameOf = (g: number, nameIndex: number): string => {
          const key = g * batch.strings.length + nameIndex
          let name = names.get(key)
          if (name === undefined) {
            const group = batch.groups[g]
            name = prefix + (group.route === '' ? '' : clean(group.route) + '.') + clean(batch.strings[nameIndex])
            names.set(key, name)
          }
          return name
        }
        const tagsFor = (g: number): string[] | undefined => {
          if (!withTags) return undefined
          if (tagsOf.has(g)) return tagsOf.get(g)
          const group = batch.groups[g]
          const tags: string[] = []
          if (group.method !== '') tags.push(`method:${clean(group.method)}`)
          for (const key in group.dimensions) tags.push(`${clean(key)}:${clean(group.dimensions[key])}`)
          tagsOf.set(g, tags)
          return tags
        }
        forEachMetric(batch, (g, type, nameIndex, value) => {
          if (type === 'timer') client.timing(nameOf(g, nameIndex), value, tagsFor(g))
        })
        const groupIndex = new Map(batch.groups.map((group, i) => [group, i]))
        for (const s of entry.series()) {
          if (s.type !== 'counter') continue
          const g = groupIndex.get(s.group) as number
          client.increment(nameOf(g, batch.strings.indexOf(s.name)), s.sum, tagsFor(g))
        }
      }
    },
    close: () => new Promise<void>((resolve) => { client.close(() => resolve()) }),
  }
}
