/**
 * `statsdPublisher`: forwards entries to StatsD (or DogStatsD / Telegraf) with the app-side sink's encoder
 * (statsd-encoder.ts), so an app behind Redis and the agent produces the lines `statsdSink` would:
 *
 * ```
 * entry ─► timers value by value, counters summed per series ─► statsdWriter ─► packetPacker ─┬─► paced UDP socket
 *                                                                                             └─► TCP connection (statsd-tcp.ts)
 * ```
 *
 * Timers go one line per value so the StatsD server computes its percentiles over the same values the app
 * saw (a v=2 entry holds a sketch: each value then comes within its 1.08 % error, min and max exact). A
 * `@rate` or multi-value line would be fewer bytes, but etsy's statsd computes percentiles over the values
 * it received, not weighted by rate, and DogStatsD and etsy spell multi-value lines differently.
 *
 * Why paced: an agent draining a backlog sends as fast as it decodes. Into a real statsd (npm `statsd`) on
 * this machine, 3,000 replayed requests (9,000 timings, ≈ 450 datagrams in a few ms) lost 3–11 % of their
 * timings in 3 of 5 runs to the daemon's UDP receive buffer (212,992 bytes by default, ≈ 90 such datagrams),
 * and nothing anywhere said so. Datagrams now leave at most `linesPerMs` lines per millisecond after a
 * burst of `burstLines`, and `publish` resolves once the kernel took the last one, so the agent acks only then and
 * the backlog waits in Redis meanwhile.
 *
 * Delivery is at-least-once: UDP has no acknowledgement, and an entry redelivered after an agent crash is
 * sent again. The socket is connected, so when nothing listens at the address the kernel says so
 * (`ECONNREFUSED`, from the ICMP reply): `publish` stops and rejects as transient, and the agent retries the
 * entries later instead of losing them; a retry first probes with an empty datagram, so a daemon coming back
 * gets each line once. What the last datagrams of a publish meet after it resolved, and a daemon that drops
 * datagrams itself, cannot be seen from here.
 *
 * Over TCP (`protocol: 'tcp'`, statsd-tcp.ts) nothing is paced, TCP's flow control is: `publish` resolves once
 * the connection took every line, and rejects as transient when it failed before (refused, reset, closed,
 * stalled), so the entries wait in Redis; bytes in flight when a server dies after taking them are lost.
 */
import dgram from 'node:dgram'
import { isIP } from 'node:net'
import type { ErrorHandler } from '../util/warn.js'
import { hostResolver, type HostResolver } from '../util/dns-resolver.js'
import { statsdEncoding, statsdWriter, type StatsdSeries } from '../wire/statsd-encoder.js'
import { packetPacker } from '../wire/statsd-lines.js'
import { forEachMetric, type DecodedGroup } from '../wire/stream-encoding.js'
import { countDrop } from '../util/drops.js'
import { pacedQueue } from '../util/paced-queue.js'
import { warningHandler } from '../util/warn.js'
import { optionChecks, optionsObject } from '../util/option-check.js'
import { PublishError, type AgentEntry, type Publisher } from './publisher.js'
import { statsdTcp } from './statsd-tcp.js'

export interface StatsdPublisherOptions {
  /** Default `127.0.0.1`. */
  host?: string
  /** Default 8125. */
  port?: number
  /**
   * `udp` (default) or `tcp`. Over TCP a publish resolves once the connection took every line, and a failed
   * connection makes it reject and retry (README, Delivery guarantees); `linesPerMs` and `burstLines` do not apply.
   */
  protocol?: 'udp' | 'tcp'
  /** Added in front of every name, e.g. `web` (then the app's own prefix, then the route). */
  prefix?: string
  /** DogStatsD tags: `method`, `status_class` and the dimensions (`|#method:GET,status_class:2xx,service:shop`). Default false. */
  tags?: boolean
  /** With `tags`, the exact status code too, as the tag `status_code`. Default false. */
  statusCode?: boolean
  /**
   * Lines per millisecond at most over UDP, after a burst of `burstLines`; datagrams leave whole, each
   * costing its lines (a server's work grows with lines, not datagrams). Default 40 (40,000 lines/s, ≈ 13,000
   * requests/s with three timers each). The npm `statsd` daemon on a 2-core machine took 40, 60 and 100 with
   * none of 9,000 timings lost (tagged and untagged lines, two runs each) and lost 10–70 % at 200, so 40
   * leaves room for a busier host. Raise it for a faster server (statsite, the Datadog agent, Telegraf).
   */
  linesPerMs?: number
  /** Lines sent at once before pacing starts. Default 1,000 (≤ 45 full datagrams, ≈ 100 KB of a 208 KB default receive buffer). */
  burstLines?: number
  /**
   * Socket and DNS errors, and refused sends. Over TCP only DNS errors: a failed connection rejects the publish,
   * and the agent warns about its retries. Default: a `RouteMeterWarning` (README, Warnings).
   */
  onError?: ErrorHandler
}

// Bytes per datagram (≈ one Ethernet MTU), and so the longest line.
const MAX_DATAGRAM = 1400
// Timer values (one line each) an entry may send. A v=2 entry states its counts (a few bytes claim 10^15
// values), and they are expanded here synchronously: without a bound a hostile entry held the agent's event
// loop and memory for good. 10^6 is 25 s of lines at the default pace, far past one flush of one process.
const MAX_TIMINGS_PER_ENTRY = 1_000_000
const DNS = { timeoutMs: 2000, ttlMs: 60_000, retryMs: 5000 }
// A StatsD server is on the LAN: 5 s to connect is long. A connection with bytes waiting that moves none for 30 s
// is given up (the publish retries on a new one), so a hung server cannot hold the agent for ever.
const TCP = { connectTimeoutMs: 5000, stallTimeoutMs: 30_000 }
// How long a probe waits for "port unreachable": on loopback it is there at the next poll, on a LAN within a round trip.
const PROBE_MS = 20

/** Where packets go: a paced UDP socket, or a TCP connection (statsd-tcp.ts; TCP has its own flow control). */
export interface Transport {
  /** Connects (resolving the host first); rejects with a transient PublishError when that cannot be done. */
  ready(): Promise<void>
  send(packet: string, lines: number): void
  /**
   * Resolves once at most `queued` packets wait to be handed to the kernel; rejects with a transient
   * PublishError when the connection failed before (TCP; the whole publish is sent again).
   */
  drained(queued: number): Promise<void>
  /** True once the kernel refused a send because nothing listens at the address (until the next `ready`). */
  refused(): boolean
  /** True once `close()` began: what is still queued is never sent. */
  closed(): boolean
  close(): Promise<void>
}

/**
 * A publisher sending to a StatsD server: paced over UDP, at TCP's own pace over TCP.
 *
 * @example
 * startAgent({ publishers: [statsdPublisher({ host: 'statsd.internal', port: 8125, prefix: 'web', tags: true })] })
 */
export function statsdPublisher(options?: StatsdPublisherOptions): Publisher {
  const o = optionsObject('statsdPublisher', options)
  const check = optionChecks('statsdPublisher')
  const host = check.string('host', o.host, '127.0.0.1')
  const port = check.integer('port', o.port, 8125, 1, 65535)
  const protocol = check.oneOf('protocol', o.protocol, 'udp', ['udp', 'tcp'] as const)
  const linesPerMs = check.number('linesPerMs', o.linesPerMs, 40, 0, Infinity, { above: true })
  const burstLines = check.integer('burstLines', o.burstLines, 1000, 1, Number.MAX_SAFE_INTEGER)
  const encoding = statsdEncoding(o, 'statsdPublisher')
  const onError = check.func<ErrorHandler>('onError', o.onError, 'a function (error) => void') ??
    warningHandler('RM_AGENT_STATSD', `StatsD ${host}:${port}: `)
  let warned = false
  const report = (error: Error): void => {
    // One warning per burst of socket errors is enough; the rest would be noise.
    if (warned) return
    warned = true
    setTimeout(() => { warned = false }, 10_000).unref()
    try { onError(new Error(`routemeter statsd ${host}:${port}: ${error.message}`)) } catch { /* hook must not throw into us */ }
  }
  const transport = protocol === 'udp'
    ? pacedUdp(host, port, linesPerMs, burstLines, report)
    // The UDP path's resolver, so a name is looked up one lookup at a time, cached, off the app's thread pool.
    : statsdTcp({
      host, port, ...TCP, report, resolver: isIP(host) !== 0 ? undefined : hostResolver({ host, family: 4, ...DNS, onError: report }),
    })
  const packer = packetPacker(MAX_DATAGRAM, (packet, lines) => transport.send(packet, lines))
  const add = (line: string): void => packer.add(line)

  const writeEntry = (entry: AgentEntry): void => {
    const { batch } = entry
    const writer = statsdWriter(encoding, add)
    // Groups are shared by every metric of the entry: stem and tags built once per group.
    const cache = new Map<DecodedGroup, StatsdSeries>()
    const seriesOf = (group: DecodedGroup): StatsdSeries => {
      let series = cache.get(group)
      if (series === undefined) cache.set(group, series = writer.series(group))
      return series
    }
    forEachMetric(batch, (g, type, nameIndex, value) => {
      if (type === 'timer') writer.timer(seriesOf(batch.groups[g]!), batch.strings[nameIndex]!, value)
    })
    for (const s of entry.series()) if (s.type === 'counter') writer.counter(seriesOf(s.group), s.name, s.sum)
    writer.end()
    packer.flush()
  }

  return {
    name: 'statsd',
    async publish(entries: readonly AgentEntry[]) {
      // Checked before anything is sent: a refusal sends the other entries again, one by one.
      for (const entry of entries) {
        let timings = 0
        for (const s of entry.series()) if (s.type === 'timer') timings += s.sketch?.count ?? s.count
        if (timings > MAX_TIMINGS_PER_ENTRY) {
          throw new PublishError(`refused: ${timings} timer values in entry ${entry.id}, more than the ${MAX_TIMINGS_PER_ENTRY} ` +
            'one entry may send as StatsD lines', { permanent: true })
        }
      }
      await transport.ready()
      for (const entry of entries) {
        writeEntry(entry)
        // Lines are built an entry at a time and wait here, so a read of 100 big entries never sits in memory
        // as packets; and a refusal stops the publish at once, since all of it is sent again.
        await transport.drained(64)
        if (transport.refused()) break
      }
      await transport.drained(0)
      if (transport.closed()) {
        throw new PublishError(`StatsD ${host}:${port}: publisher closed before every line left: will retry`, { permanent: false })
      }
      // The "port unreachable" answer to the last datagrams is read at the next poll of the loop (on loopback
      // it is already queued): two turns through setImmediate take us past one poll.
      for (let turn = 0; turn < 2 && !transport.refused(); turn++) await new Promise((resolve) => setImmediate(resolve))
      if (transport.refused()) {
        throw new PublishError(`StatsD ${host}:${port} refused the datagrams (nothing listening): will retry`, { permanent: false })
      }
      // Over TCP the same turns let a server's FIN or reset in: a server that closes each connection as it comes
      // took every line into our kernel and read none of it, and each publish resolved (5 entries acked, 0 bytes
      // read). A connection that failed meanwhile rejects here, and the publish goes again.
      await transport.drained(0)
    },
    close: () => transport.close(),
  }
}

/**
 * A connected UDP socket sending at most `perMs` lines per millisecond after a burst of `burst`, through the
 * token bucket and queue the app-side `statsdSink` paces with (`util/paced-queue.ts`). A packet leaves when
 * the bucket holds its lines (or is full, for a packet bigger than the burst).
 */
function pacedUdp(host: string, port: number, perMs: number, burst: number, report: (error: Error) => void): Transport {
  const family = isIP(host) === 6 ? 6 : 4
  const resolver: HostResolver | undefined = isIP(host) !== 0 ? undefined
    : hostResolver({ host, family, ...DNS, onError: report })
  const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4')
  let refused = false
  let connectedTo: string | undefined
  let inFlight = 0
  let closed = false
  // Once refused, the rest of the publish is sent again with the retry: no point sending what waits now.
  const refuse = (): void => {
    refused = true
    queue.clear()
  }
  // A connected socket hears the ICMP "port unreachable" as an error, on a later send or on its reads.
  socket.on('error', (error: NodeJS.ErrnoException) => { if (error.code === 'ECONNREFUSED') refuse(); else report(error) })
  socket.unref()
  const sent = (lines: number) => (error: Error | null): void => {
    inFlight--
    if (error !== null) {
      if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED') refuse()
      else {
        // Refused by our own kernel (no route, no buffer): these lines are gone, and counted.
        countDrop('sink', lines)
        report(error)
      }
    }
    queue.notify()
  }
  const queue = pacedQueue({
    linesPerMs: perMs,
    burstLines: burst,
    send(packet, lines) {
      inFlight++
      socket.send(packet, sent(lines))
    },
  })
  // Packets waiting in the queue and handed to the kernel but not yet called back.
  const queued = (): number => queue.packets() + inFlight

  return {
    async ready() {
      if (closed) throw new PublishError(`StatsD ${host}:${port}: publisher closed`, { permanent: false })
      const address = resolver === undefined ? host : resolver.current() ?? await resolver.ready()
      if (address === undefined) throw new PublishError(`StatsD ${host}: not resolved: will retry`, { permanent: false })
      if (address === connectedTo && !refused) return
      if (address === connectedTo) {
        // The last publish was refused. Ask with an empty datagram (servers ignore it) and wait for the ICMP
        // answer before sending data: data sent while the server comes up would partly arrive and then be
        // sent again with the retry, counting twice.
        refused = false
        socket.send(Buffer.alloc(0))
        await new Promise((resolve) => setTimeout(resolve, PROBE_MS))
        if (refused) {
          throw new PublishError(`StatsD ${host}:${port} still refuses datagrams (nothing listening): will retry`, { permanent: false })
        }
        return
      }
      // The address changed (DNS TTL) or this is the first publish: (re)connect once the queue is empty.
      await queue.until(() => queued() === 0)
      if (closed) throw new PublishError(`StatsD ${host}:${port}: publisher closed`, { permanent: false })
      if (connectedTo !== undefined) socket.disconnect()
      connectedTo = undefined
      await new Promise<void>((resolve, reject) => {
        socket.connect(port, address, (error?: Error) => {
          if (error === undefined || error === null) resolve()
          else reject(new PublishError(`StatsD ${host}:${port}: ${error.message}: will retry`, { permanent: false, cause: error }))
        })
      })
      connectedTo = address
    },
    send(packet, lines) {
      if (!closed && !refused) queue.push(packet, lines)
    },
    drained: (n) => queue.until(() => queued() <= n),
    refused: () => refused,
    closed: () => closed,
    async close() {
      // Bounded: a send that never calls back (it should not) must not hold close() for ever.
      await Promise.race([this.drained(0), new Promise((resolve) => setTimeout(resolve, 2000).unref())])
      // What is still queued now is dropped, and the pacing timer with it: it would send on the closed socket,
      // which throws outside any caller (an uncaught exception). A publish still waiting rejects, so nothing acks.
      closed = true
      queue.clear()
      queue.release()
      resolver?.close()
      await new Promise<void>((resolve) => { try { socket.close(() => resolve()) } catch { resolve() } })
    },
  }
}
