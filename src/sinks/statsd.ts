import { StatsD } from 'hot-shots'
import { drainInto } from '../pipeline/registry.js'
import { packetPacker, statsdSafe, writeStatsd } from '../pipeline/statsd-lines.js'
import { warnOnce } from '../util/warn.js'
import type { ErrorHandler, Sink } from './sink.js'

/** Options of {@link statsdSink}. */
export interface StatsdSinkOptions {
  /** StatsD host. Default `ROUTEMETER_STATSD`'s host, else `127.0.0.1`. */
  host?: string
  /** StatsD port. Default `ROUTEMETER_STATSD`'s port, else 8125. */
  port?: number
  /** Prefix of every name (`shop` → `shop.users.id.RequestTime`). */
  prefix?: string
  /** DogStatsD tags: `method`, `status` class, and the dimensions. Default false (plain StatsD). */
  tags?: boolean
  /** Bytes per UDP packet; lines are buffered up to it. Default 1400 (fits a 1500-byte Ethernet MTU). */
  maxBufferSize?: number
  /** Milliseconds before a partly filled packet is sent anyway. Default 100. */
  bufferFlushInterval?: number
  /** Receives DNS, socket and send errors. Default: one warning per error code. */
  onError?: ErrorHandler
}

/**
 * Sends every record to StatsD (or DogStatsD) over UDP through hot-shots, buffered into MTU-sized packets.
 * A DNS, socket or send error never throws into the app and never crashes it: it goes to `onError`.
 *
 * @example
 * const sink = statsdSink({ host: 'statsd.internal', port: 8125, prefix: 'shop', tags: true })
 * http.createServer(withMetrics(app, { sink }))
 */
export function statsdSink(options: StatsdSinkOptions = {}): Sink {
  const fromEnv = parseStatsdAddress(process.env.ROUTEMETER_STATSD)
  const host = options.host ?? fromEnv?.host ?? '127.0.0.1'
  const port = options.port ?? fromEnv?.port ?? 8125
  if (typeof host !== 'string' || host.length === 0) throw new TypeError(`routemeter: statsdSink option "host" must be a non-empty string, got ${String(host)}`)
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`routemeter: statsdSink option "port" must be an integer from 1 to 65535, got ${String(port)}`)
  const onError = options.onError ?? ((error: Error) => warnOnce(`RM_STATSD_${(error as NodeJS.ErrnoException).code ?? 'ERROR'}`, `routemeter: StatsD ${host}:${port}: ${error.message}`))
  const encoding = {
    prefix: options.prefix === undefined || options.prefix === '' ? '' : `${statsdSafe(options.prefix)}.`,
    tags: options.tags ?? false,
  }
  const maxBufferSize = options.maxBufferSize ?? 1400
  if (!Number.isInteger(maxBufferSize) || maxBufferSize < 64) throw new TypeError(`routemeter: statsdSink option "maxBufferSize" must be an integer ≥ 64, got ${String(maxBufferSize)}`)
  // hot-shots is the transport (socket, DNS cache, buffering, errorHandler); the lines and the packets are
  // built by writeStatsd and the packer, and handed over a packet at a time.
  const client = new StatsD({
    host,
    port,
    maxBufferSize,
    bufferFlushInterval: options.bufferFlushInterval ?? 100,
    errorHandler: onError,
    // One lookup, then reused: a per-packet lookup would hammer the resolver and fail per packet when it is down.
    cacheDns: true,
  })
  let closing: Promise<void> | undefined
  // `send(message)` is hot-shots' raw entry point (every typed method ends in it), present in every version
  // we support but missing from its .d.ts; checked here so an incompatible version fails at startup.
  const raw = client as unknown as { send?: (message: string) => void }
  if (typeof raw.send !== 'function') throw new TypeError('routemeter: statsdSink needs hot-shots ^17 (client.send is missing)')
  const packer = packetPacker(maxBufferSize, (packet) => raw.send!(packet))
  const addLine = (line: string): void => packer.add(line)

  const sink: Sink = {
    send(batch) {
      writeStatsd(batch, encoding, addLine)
      packer.flush()
    },
    async flush() {
      await drainInto(sink)
      // With a callback hot-shots hands send errors to it instead of errorHandler: route them to onError.
      await new Promise<void>((resolve) =>
        client.flush((error) => {
          if (error) onError(error)
          resolve()
        }),
      )
    },
    close() {
      closing ??= (async () => {
        await drainInto(sink)
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

/** `host:port` (`[::1]:8125` for IPv6) as parts; `undefined` when unset. Throws TypeError when malformed. */
export function parseStatsdAddress(text: string | undefined): { host: string; port: number } | undefined {
  if (text === undefined || text === '') return undefined
  const found = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(text.trim())
  const port = found?.[2] === undefined ? 8125 : Number(found[2])
  if (found === null || port < 1 || port > 65535) {
    throw new TypeError(`routemeter: ROUTEMETER_STATSD must be host[:port], got ${JSON.stringify(text)}`)
  }
  return { host: found[1]!, port }
}
