import { isIP } from 'node:net'
import { StatsD } from 'hot-shots'
import type { MetricRecord } from '../wire/record.js'
import { statsdEncoding } from '../wire/statsd-encoder.js'
import { packetPacker, writeStatsd } from '../wire/statsd-lines.js'
import { countDrop } from '../util/drops.js'
import { OptionError, optionChecks, optionsObject } from '../util/option-check.js'
import { pacedQueue } from '../util/paced-queue.js'
import { report, warn, warningHandler } from '../util/warn.js'
import { hostResolver } from '../util/dns-resolver.js'
import type { ErrorHandler, Sink } from './sink.js'

/** After a failed or timed-out lookup, the next one waits this long (a resolver that is down stays asked rarely). */
const DNS_RETRY_MS = 5000
/** The longest delay a Node timer takes (2^31 - 1 ms); a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** Options of {@link statsdSink}. */
export interface StatsdSinkOptions {
  /** StatsD host. Default `ROUTEMETER_STATSD`'s host, else `127.0.0.1`. */
  host?: string
  /** StatsD port. Default `ROUTEMETER_STATSD`'s port, else 8125. */
  port?: number
  /** Prefix of every name (`shop` → `shop.users.id.RequestTime`). */
  prefix?: string
  /** DogStatsD tags: `method`, `status_class` (`2xx`, …, `aborted`), and the dimensions. Default false (plain StatsD). */
  tags?: boolean
  /** With `tags`, the exact status code too, as the tag `status_code`. Default false (one more series per code). */
  statusCode?: boolean
  /** Bytes per UDP packet; lines are buffered up to it. Default 1400 (fits a 1500-byte Ethernet MTU). */
  maxBufferSize?: number
  /**
   * Unused: a partly filled packet leaves as soon as its batch is written (paced, like the others). Still
   * checked (a number of milliseconds, 1 to 2^31 - 1), so that options written for earlier versions keep working.
   *
   * @deprecated packets no longer wait in hot-shots' buffer; nothing to tune.
   */
  bufferFlushInterval?: number
  /** Receives DNS, socket and send errors. Default: one warning per error code. */
  onError?: ErrorHandler
  /**
   * Milliseconds a batch waits for the host's first lookup before it is dropped (counted as `dns`); a lookup
   * still unanswered then is reported to `onError`. Default 2000. Unused when `host` is an IP address.
   */
  dnsTimeout?: number
  /** Milliseconds a resolved address is used before it is looked up again (the old one serves meanwhile). Default 60,000. */
  dnsTtl?: number
  /**
   * Lines per millisecond at most, after a burst of `burstLines`; packets wait in the sink's queue meanwhile,
   * each costing its lines. Default 100 (100,000 lines/s, ≈ 50,000 requests/s at two timings each): the npm
   * `statsd` daemon on a 2-core machine lost nothing at 40–100 and 10–70 % at 200, and a loopback receiver
   * nothing at 100 and 200. The agent's `statsdPublisher` defaults to 40, for replayed backlogs; at 40 a
   * single bench server (`npm run bench`, tiny route, 64 connections) outran the pace and its batcher dropped
   * records (counted). Raise it for a faster server (statsite, the Datadog agent, Telegraf).
   */
  linesPerMs?: number
  /** Lines sent at once before pacing starts. Default 1,000 (≤ 45 full packets, ≈ 100 KB of a 208 KB default receive buffer). */
  burstLines?: number
  /**
   * Lines that may wait to be sent; a packet that would wait past them is dropped and counted (`sink`).
   * Default 100,000 (1 s at the default pace; ≈ 5 MB of 50-byte lines, tens of MB when every line carries
   * many tags); 0 sends only what the bucket takes.
   */
  maxQueuedLines?: number
  /**
   * Milliseconds `close()` lets the queue drain; lines still waiting then are dropped and counted (`close`). Default
   * 3000. From `metrics.close()`, no longer than what is left of its bound.
   */
  closeTimeout?: number
}

/**
 * Sends every record to StatsD (or DogStatsD) over UDP through hot-shots, buffered into MTU-sized packets
 * and paced:
 *
 * ```
 * send(batch) ─► writeStatsd ─► packetPacker ─► pacedQueue (linesPerMs, burstLines, maxQueuedLines) ─► hot-shots ─► UDP
 * ```
 *
 * Why paced: a flush of 2,000 records is 10,000 lines in 149 packets, once handed over in one synchronous
 * burst; a receiver on loopback got 92 of the packets, 5,869 lines (41 % lost; 64 % of a 3,000-record
 * flush), because its 208 KB receive buffer filled before it read, and nothing said so. Now at most
 * `burstLines` lines leave at once, then `linesPerMs`; the same flushes arrive whole. A DNS, socket or send
 * error never throws into the app and never crashes it: it goes to `onError`; every line the sink gives up
 * on is counted in `metrics.stats().dropped`.
 *
 * A host name is resolved by the sink itself, one `dns.lookup` at a time (see `dns-resolver.ts`): a DNS
 * server that never answers holds one thread of libuv's pool, never the app's share of it. While no address
 * is known a batch waits for the lookup in progress up to `dnsTimeout`, then is dropped and counted (`dns`).
 *
 * @example
 * const sink = statsdSink({ host: 'statsd.internal', port: 8125, prefix: 'shop', tags: true })
 * http.createServer(withMetrics(app, { sink }))
 */
export function statsdSink(options?: StatsdSinkOptions): Sink {
  const o = optionsObject('statsdSink', options)
  const check = optionChecks('statsdSink')
  const fromEnv = parseStatsdAddress(process.env.ROUTEMETER_STATSD)
  const host = check.string('host', o.host ?? fromEnv?.host, '127.0.0.1')
  const port = check.integer('port', o.port ?? fromEnv?.port, 8125, 1, 65535)
  // The same encoder as the agent's statsdPublisher: an app sending here and one going through Redis and the
  // agent produce the same lines.
  const encoding = statsdEncoding(o, 'statsdSink')
  const dnsTimeout = check.number('dnsTimeout', o.dnsTimeout, 2000, 0, MAX_TIMER_MS, { above: true })
  const dnsTtl = check.number('dnsTtl', o.dnsTtl, 60_000, 0, Infinity, { above: true })
  // 65,507 bytes is the largest UDP payload over IPv4: a bigger packet fails every send with EMSGSIZE.
  const maxBufferSize = check.integer('maxBufferSize', o.maxBufferSize, 1400, 64, 65_507)
  check.number('bufferFlushInterval', o.bufferFlushInterval, 100, 0, MAX_TIMER_MS, { above: true })
  const linesPerMs = check.number('linesPerMs', o.linesPerMs, 100, 0, Infinity, { above: true })
  const burstLines = check.integer('burstLines', o.burstLines, 1000, 1, Number.MAX_SAFE_INTEGER)
  const maxQueuedLines = check.integer('maxQueuedLines', o.maxQueuedLines, 100_000, 0, Number.MAX_SAFE_INTEGER)
  const closeTimeout = check.number('closeTimeout', o.closeTimeout, 3000, 0, MAX_TIMER_MS)
  const hook = check.func<ErrorHandler>('onError', o.onError, 'a function (error) => void') ??
    warningHandler('RM_STATSD', `StatsD ${host}:${port}: `)
  // hot-shots calls its errorHandler from dgram callbacks and the socket's 'error' event: a hook that throws
  // there is an uncaught exception, which ends the app. Every error goes through report() instead.
  const onError: ErrorHandler = (error) => report(hook, error)
  // An IP needs no lookup (hot-shots sends to it as is). A name: hot-shots' socket asks our resolver, which
  // answers from its cache; hot-shots' own cacheDns looked up per packet while unresolved, unshared.
  const resolver = isIP(host) !== 0 ? undefined
    : hostResolver({ host, family: 4, timeoutMs: dnsTimeout, ttlMs: dnsTtl, retryMs: DNS_RETRY_MS, onError })
  // hot-shots is the transport (socket, DNS, errorHandler); the lines and the packets are built by writeStatsd and
  // the packer, and handed over a packet at a time. Unbuffered (maxBufferSize 0), so that each packet is one
  // datagram whose send reports back to its own callback: buffered, hot-shots sent several packets in one datagram
  // and told only errorHandler when the send failed, and the lines it lost (EACCES, ENETUNREACH) went uncounted.
  const client = new StatsD({
    host,
    port,
    maxBufferSize: 0,
    errorHandler: onError,
    // hot-shots makes a udp4 socket for a host name; the resolver asks for IPv4 to match.
    ...(resolver === undefined ? {} : { udpSocketOptions: { type: 'udp4', lookup: resolver.lookup } }),
  })
  let closing: Promise<void> | undefined
  let closed = false
  // `send(message, tags, callback)` is hot-shots' raw entry point (every typed method ends in it), present in every
  // version we support but missing from its .d.ts; checked here so an incompatible version fails at startup.
  const raw = client as unknown as { send?: (message: string, tags: undefined, callback: (error?: Error | null) => void) => void }
  if (typeof raw.send !== 'function') throw new TypeError('routemeter: statsdSink needs hot-shots ^17 (client.send is missing)')
  const handOver = (packet: string, lines: number): void => {
    const failed = (error: unknown): void => {
      countDrop('sink', lines)
      report(hook, error)
    }
    // Unbuffered, the callback hears how this packet's datagram went (and errorHandler does not); a throw all
    // the same would escape from the pacing timer.
    try {
      raw.send!(packet, undefined, (error) => { if (error) failed(error) })
    } catch (error) {
      failed(error)
    }
  }
  const queue = pacedQueue({ linesPerMs, burstLines, send: handOver })
  const enqueue = (packet: string, lines: number): void => {
    if (closed) {
      countDrop('close', lines)
      warn('RM_STATSD_CLOSED', () => `statsdSink ${host}:${port} got a batch after close(); dropped ${lines} lines (counted: close)`)
    } else if (!queue.push(packet, lines, maxQueuedLines)) {
      // The newest go: the waiting packets are older data, already paid for, and cutting the tail keeps push O(1).
      countDrop('sink', lines)
      warn('RM_STATSD_QUEUE_FULL', () => `statsdSink ${host}:${port}: ${queue.lines()} lines already wait at ${linesPerMs} lines/ms ` +
        `(maxQueuedLines ${maxQueuedLines}); dropped the newest ${lines} lines. Drops are counted in stats()`)
    }
  }
  const packer = packetPacker(maxBufferSize, enqueue)
  const addLine = (line: string): void => packer.add(line)
  // Back-pressure. A batch that leaves at most `burstLines` lines waiting returns nothing: the common flush
  // (a few hundred records, within the burst) adds no promise. A bigger one returns a promise that resolves
  // once no more than `burstLines` lines wait. The batcher never has two sends in flight, so meanwhile it
  // holds the next records in its own buffer (bounded by maxBuffer; the oldest dropped and counted as
  // `buffer`) instead of this queue filling to its cap; resolving at `burstLines` rather than at empty keeps
  // the socket busy (25 ms of lines at the default pace) while the batcher builds the next batch. By default
  // it resolves within maxQueuedLines / linesPerMs = 1 s, inside the batcher's 5 s close bound, so a closing
  // batcher does not give up on (and count) records this queue still sends.
  const settled = (): boolean => queue.lines() <= burstLines
  const write = (batch: MetricRecord[]): Promise<void> | undefined => {
    writeStatsd(batch, encoding, addLine)
    packer.flush()
    return settled() ? undefined : queue.until(settled)
  }
  // Reached only while no address is known: at startup, or while the resolver fails or hangs.
  const writeOnceResolved = (batch: MetricRecord[]): Promise<void> =>
    resolver!.ready().then((address) => {
      if (address !== undefined) return write(batch)
      countDrop('dns', batch.length)
    })

  const sink: Sink = {
    // A batch's lines are queued (or counted as dropped) before send returns; its promise is back-pressure only.
    // Past a DNS wait too: such a batch is sent, or counted as `dns` or `close`, when the lookup ends.
    acceptsOnSend: true,
    send(batch) {
      if (resolver === undefined || resolver.current() !== undefined) return write(batch)
      return writeOnceResolved(batch)
    },
    async flush() {
      // Held open meanwhile (a ref'd timer): `await sink.flush()` before exiting must not lose the queue's tail.
      // What was queued when flush began, not an empty queue: traffic above `linesPerMs` never empties it (a
      // flush under 8 clients at 2 lines/ms returned 18.6 s after the traffic stopped).
      const upTo = queue.pushed()
      await queue.until(() => queue.done() >= upTo, true)
      // With a callback hot-shots hands send errors to it instead of errorHandler: route them to onError.
      await new Promise<void>((resolve) =>
        client.flush((error) => {
          if (error) onError(error)
          resolve()
        }),
      )
    },
    close(timeoutMs) {
      closing ??= (async () => {
        closed = true
        const limit = Math.min(closeTimeout, timeoutMs ?? closeTimeout)
        // Not unref'd, like the batcher's bound: whoever awaits close() wants the queue sent, and it is bounded.
        let timer: NodeJS.Timeout | undefined
        const bound = new Promise<void>((resolve) => { timer = setTimeout(resolve, limit) })
        await Promise.race([queue.until(() => queue.packets() === 0, true), bound])
        clearTimeout(timer)
        const left = queue.clear()
        queue.release()
        if (left > 0) {
          countDrop('close', left)
          onError(new Error(`close() gave up after ${limit} ms with ${left} lines not sent (counted as dropped: close)`))
        }
        resolver?.close()
        await new Promise<void>((resolve) =>
          client.close((error) => {
            if (error) onError(error)
            resolve()
          }),
        )
      })()
      return closing
    },
  }
  return sink
}

/**
 * `host:port` (`[::1]:8125` for IPv6) as parts; `undefined` when unset. Throws an `OptionError` of
 * `statsdSink` whose option is the variable itself, `ROUTEMETER_STATSD`, when malformed: the fix is there.
 *
 * @example
 * parseStatsdAddress('statsd.internal:8125') // { host: 'statsd.internal', port: 8125 }
 */
export function parseStatsdAddress(text: string | undefined): { host: string, port: number } | undefined {
  if (text === undefined || text === '') return undefined
  const found = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(text.trim())
  const port = found?.[2] === undefined ? 8125 : Number(found[2])
  if (found === null || port < 1 || port > 65535) {
    throw new OptionError('statsdSink', 'ROUTEMETER_STATSD', `must be host[:port], got ${JSON.stringify(text)}`)
  }
  return { host: found[1]!, port }
}
