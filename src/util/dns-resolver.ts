import dns from 'node:dns'
import type { SocketOptions } from 'node:dgram'
import { isIP } from 'node:net'
import { report } from './warn.js'
import type { ErrorHandler } from './warn.js'

/**
 * One host name resolved for a sink, without ever competing with the app for libuv's thread pool.
 *
 *   send(batch) ─► current() ─┬─ an address (even past its TTL while a refresh runs) ─► packets go out
 *                             └─ none yet ─► ready(): wait for the lookup in progress, at most timeoutMs,
 *                                            else the batch is dropped and counted
 *   dgram socket ─► lookup(host) ─► answered from the cache, never from the system resolver
 *
 * `dns.lookup` is getaddrinfo on one of libuv's 4 pool threads, the threads the app's own lookups, `fs` and
 * `crypto` calls use. Against a DNS server that never answers, each call holds its thread for the system
 * resolver's whole timeout; hot-shots looked up per packet while unresolved (uncached on failure, unshared in
 * flight), so four packets filled the pool and the app's own outgoing calls hung (169 of 2,999 answered in
 * 30 s). Here at most one lookup runs at a time, also after our timeout gave up on it: a timed-out getaddrinfo
 * keeps its thread until it returns, so starting another would take a second thread. The timeout only
 * decides how long a send waits and when the failure is reported.
 */
export interface HostResolver {
  /** The address to send to now, `undefined` while none is known; starts a lookup when one is due. O(1). */
  current(): string | undefined
  /** The address, once the lookup in progress answers; `undefined` when it failed, timed out, or may not start yet. */
  ready(): Promise<string | undefined>
  /** For `dgram.createSocket({ lookup })`: answers from the cache (IP literals as themselves), never resolves. */
  readonly lookup: DgramLookup
  /** Stops the timeout timer. A lookup in flight is left to return (getaddrinfo cannot be cancelled). */
  close(): void
}

/** The `lookup` a `dgram` socket calls for every send to a host name (and for its implicit bind). */
export type DgramLookup = NonNullable<SocketOptions['lookup']>

/** Options of {@link hostResolver}. */
export interface HostResolverOptions {
  host: string
  /** Address family asked for: that of the socket the addresses are used on. */
  family: 4 | 6
  /** How long a send waits for a first answer, and when a lookup that has not answered is reported. */
  timeoutMs: number
  /** How long an answer is used before it is looked up again (the old one serves until the new one arrives). */
  ttlMs: number
  /** After a failure or a timeout, how long before the next lookup may start (the negative cache). */
  retryMs: number
  /** Receives lookup failures and timeouts, once per lookup. */
  onError: ErrorHandler
  /** Resolves the name. Default: `dns.lookup` (getaddrinfo: /etc/hosts, then DNS, as the app's own lookups). */
  resolve?: (host: string, family: 4 | 6) => Promise<string>
  /** The clock, in ms. Default `Date.now`. */
  now?: () => number
}

/**
 * Resolves `host` at most one lookup at a time, with a timeout, a positive cache of `ttlMs` (serving the
 * last answer while a refresh runs, and when a refresh fails) and a negative cache of `retryMs`. Starts the
 * first lookup at once, so the first flush usually finds the answer.
 *
 * @example
 * const resolver = hostResolver({ host: 'statsd.internal', family: 4, timeoutMs: 2000, ttlMs: 60_000, retryMs: 5000, onError })
 * const socket = dgram.createSocket({ type: 'udp4', lookup: resolver.lookup })
 * if (resolver.current() !== undefined) socket.send(packet, 8125, 'statsd.internal')
 */
export function hostResolver(options: HostResolverOptions): HostResolver {
  const { host, family, timeoutMs, ttlMs, retryMs, onError } = options
  const resolve = options.resolve ?? systemLookup
  const now = options.now ?? Date.now
  let address: string | undefined
  let expires = 0
  let retryAt = 0
  /** True from the start of a lookup until it returns, whatever our timeout said meanwhile. */
  let pending = false
  /** What senders wait for: settles at the answer, the failure or the timeout, whichever comes first. */
  let waiting: Promise<string | undefined> | undefined
  let timer: NodeJS.Timeout | undefined
  /** Lets the senders waiting on the current lookup go (with what is known), at the timeout or at close(). */
  let letGo: (() => void) | undefined
  let closed = false

  function start(): void {
    pending = true
    let settle!: (found: string | undefined) => void
    waiting = new Promise((r) => (settle = r))
    let reported = false
    const give = (found: string | undefined, error?: unknown): void => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      waiting = undefined
      letGo = undefined
      settle(found)
      if (error !== undefined && !reported) {
        reported = true
        report(onError, error)
      }
    }
    letGo = () => give(address)
    timer = setTimeout(() => {
      retryAt = now() + retryMs
      const message = `routemeter: DNS lookup of ${host} timed out after ${timeoutMs} ms; records are dropped (counted: dns) until answered`
      const error = Object.assign(new Error(message), { code: 'ETIMEOUT' })
      give(address, error)
    }, timeoutMs)
    timer.unref()
    let lookup: Promise<string>
    try {
      lookup = resolve(host, family)
    } catch (error) {
      lookup = Promise.reject(error)
    }
    lookup.then(
      (found) => {
        pending = false
        address = found
        expires = now() + ttlMs
        retryAt = 0
        give(found)
      },
      (error: unknown) => {
        pending = false
        retryAt = now() + retryMs
        give(address, error)
      },
    )
  }

  function current(): string | undefined {
    if (!pending && !closed && (address === undefined || now() >= expires) && now() >= retryAt) start()
    return address
  }

  const lookup: DgramLookup = (hostname, _options, callback) => {
    const literal = isIP(hostname)
    if (literal !== 0) process.nextTick(callback, null, hostname, literal)
    else if (hostname === host && address !== undefined) process.nextTick(callback, null, address, family)
    // Unreachable through statsdSink, which writes only once an address is known and never forgets it.
    else process.nextTick(callback, Object.assign(new Error(`routemeter: ${hostname} is not resolved yet`), { code: 'EAI_AGAIN' }), '', 0)
  }

  current()
  return {
    current,
    ready: () => {
      const found = current()
      return found !== undefined ? Promise.resolve(found) : (waiting ?? Promise.resolve(undefined))
    },
    lookup,
    close() {
      closed = true
      letGo?.()
    },
  }
}

// `dns.lookup` read at call time, not imported by name: what the app's own lookups use, patched or not.
function systemLookup(host: string, family: 4 | 6): Promise<string> {
  return new Promise((resolve, reject) => {
    dns.lookup(host, { family }, (error, address) => (error ? reject(error) : resolve(address)))
  })
}
