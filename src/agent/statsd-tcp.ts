/**
 * `statsdTcp`: the StatsD publisher's transport over TCP, on `node:net`, so that a publish resolves only once
 * the connection took its bytes:
 *
 * ```
 * ready() ─► connect (lazily, at most connectTimeoutMs; again after any failure)
 * send(packet) ─► socket.write(packet + '\n') ─ returned false ─► own queue, written on 'drain'
 * drained(n) ─► resolves once ≤ n packets wait for their write callback (the kernel took them)
 *           └─► rejects, transient, once the connection failed: error, close, end, or stalled for stallTimeoutMs
 * ```
 *
 * The guarantee: an entry is acked once every line of its publish was written to the connection, that is
 * handed to this host's kernel on a connection that had not failed by then. What can still be lost: bytes
 * in flight (in our kernel's send buffer, on the wire, in the server's receive buffer) when the server dies
 * after accepting them, since StatsD over TCP has no application-level acknowledgement. A failure seen before
 * the publish resolved makes it reject, and the whole publish goes again on a new connection: lines that
 * did arrive arrive twice (at-least-once, never fewer).
 *
 * hot-shots did this before, fire and forget: `publish` resolved as soon as the packets were handed to it,
 * so with the server down or the connection dropped the agent acked entries whose lines went nowhere.
 */
import net from 'node:net'
import type { HostResolver } from '../util/dns-resolver.js'
import { PublishError } from './publisher.js'
import type { Transport } from './statsd-publisher.js'

/** Options of {@link statsdTcp}. */
export interface StatsdTcpOptions {
  host: string
  port: number
  /**
   * Resolves `host` when it is a name: the one the UDP transport uses (one lookup at a time, cached, with a
   * timeout), so the socket then connects to an IP literal and net's own lookup never runs. Leave it out
   * for an IP literal.
   */
  resolver?: HostResolver
  /** How long a connection may take to be established. */
  connectTimeoutMs: number
  /** How long a connection with bytes waiting may make no progress (a server that stopped reading) before it is given up. */
  stallTimeoutMs: number
  /** For the tests: the socket's `highWaterMark` (bytes `write()` takes before it returns false). Default Node's, 16 KiB. */
  highWaterMark?: number
  /**
   * Hears of a connection that failed while no publish was waiting on it (after the last one resolved), found at
   * the next `ready()`: the lines of that publish may not have reached the server, and nothing else would say so.
   */
  report?: (error: Error) => void
}

/** The StatsD transport over TCP, with the bytes it holds itself (for the tests and for a curious caller). */
export interface StatsdTcp extends Transport {
  /** Bytes written to the socket or waiting for 'drain', not yet taken by the kernel. */
  queuedBytes(): number
}

interface Waiter { n: number, resolve: () => void, reject: (error: PublishError) => void }

/**
 * A lazily connected TCP socket to a StatsD server, newline-terminating each packet's last line (StatsD over
 * TCP is newline-delimited, and `packetPacker` only puts `\n` between lines). It never throws into the event
 * loop (every socket error ends as a rejected `drained` or `ready`) and holds the process open only while
 * bytes wait to be written (at most `stallTimeoutMs` without progress).
 *
 * @example
 * const tcp = statsdTcp({ host: '127.0.0.1', port: 8125, connectTimeoutMs: 5000, stallTimeoutMs: 30_000 })
 * await tcp.ready()
 * tcp.send('web.users.RequestTime:2|ms\nweb.users.Failure:0|c', 2)
 * await tcp.drained(0) // rejects with a transient PublishError if the connection failed before taking it all
 */
export function statsdTcp(options: StatsdTcpOptions): StatsdTcp {
  const { host, port, resolver, connectTimeoutMs, stallTimeoutMs, highWaterMark, report } = options
  const where = `StatsD ${host}:${port} over TCP`
  let socket: net.Socket | undefined
  let connectedTo: string | undefined
  let connecting: Promise<void> | undefined
  /** Why the current socket failed; cleared by the next connect. */
  let failure: PublishError | undefined
  /** Whether a publish heard of `failure` (a `drained` rejected with it): else `ready()` reports it. */
  let failureTold = false
  let closed = false
  /** Packets (newline-terminated) that wait for 'drain' before they are written, oldest at `head`. */
  let waiting: string[] = []
  let head = 0
  let waitingBytes = 0
  /** Packets handed to `socket.write` whose callback has not come yet. */
  let writing = 0
  let needDrain = false
  let busy = false
  const waiters: Waiter[] = []

  const queued = (): number => waiting.length - head + writing
  const forget = (): void => {
    waiting = []
    head = 0
    waitingBytes = 0
    writing = 0
    needDrain = false
  }

  // While bytes wait, the socket holds the process open and a stall times it out; idle, neither (hot-shots'
  // rule: never hold the process open; an idle connection may sit unused between flushes for minutes).
  const markBusy = (s: net.Socket, now: boolean): void => {
    if (busy === now) return
    busy = now
    if (now) s.ref().setTimeout(stallTimeoutMs)
    else s.unref().setTimeout(0)
  }

  const settle = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i]!
      if (failure !== undefined) {
        failureTold = true
        waiters.splice(i, 1)[0]!.reject(failure)
      } else if (closed || queued() <= waiter.n) {
        waiters.splice(i, 1)[0]!.resolve()
      }
    }
    if (socket !== undefined && queued() === 0) markBusy(socket, false)
  }

  /** The socket `s` failed: what it did not take is forgotten (the publish rejects and is sent again whole). */
  const fail = (s: net.Socket, reason: string, cause?: unknown): void => {
    if (s !== socket || failure !== undefined) return
    failure = new PublishError(`${where}: ${reason}: will retry`, { permanent: false, cause })
    forget()
    markBusy(s, false)
    s.destroy()
    settle()
  }

  const write = (s: net.Socket, data: string): void => {
    markBusy(s, true)
    writing++
    if (!s.write(data, (error) => {
      // A destroyed socket calls back its pending writes with an error: fail() already handled that socket.
      if (s !== socket || failure !== undefined) return
      if (error !== undefined && error !== null) return fail(s, error.message, error)
      writing--
      settle()
    })) needDrain = true
  }

  const pump = (s: net.Socket): void => {
    if (s !== socket || failure !== undefined) return
    needDrain = false
    while (!needDrain && head < waiting.length) {
      const data = waiting[head]!
      waiting[head++] = ''
      waitingBytes -= data.length
      write(s, data)
    }
    if (head === waiting.length) {
      waiting = []
      head = 0
    } else if (head >= 1024 && head * 2 >= waiting.length) {
      // A server reading steadily slower than we encode never lets the queue empty within a publish.
      waiting.splice(0, head)
      head = 0
    }
    settle()
  }

  async function connect(address: string): Promise<void> {
    socket?.destroy()
    failure = undefined
    failureTold = false
    forget()
    busy = false
    // An IP literal: net does no lookup of its own (the resolver above answered for a name).
    const s = net.connect({ host: address, port, ...(highWaterMark === undefined ? {} : { highWaterMark }) })
    socket = s
    let connected = false
    s.setTimeout(connectTimeoutMs)
    s.on('error', (error) => fail(s, error.message, error))
    s.on('timeout', () => fail(s, connected ? `no progress for ${stallTimeoutMs} ms` : `connect timed out after ${connectTimeoutMs} ms`))
    s.on('end', () => fail(s, 'the server closed the connection'))
    s.on('close', () => fail(s, 'connection closed'))
    s.on('drain', () => pump(s))
    connected = await new Promise<boolean>((resolve) => {
      s.once('connect', () => resolve(true))
      s.once('close', () => resolve(false))
    })
    if (!connected || failure !== undefined) {
      failureTold = true // the publish that asked for this connection rejects with it
      throw failure ?? new PublishError(`${where}: connection closed: will retry`, { permanent: false })
    }
    if (closed) {
      s.destroy()
      throw new PublishError(`${where}: publisher closed`, { permanent: false })
    }
    s.setTimeout(0).unref()
    connectedTo = address
  }

  const drained = (n: number): Promise<void> => {
    if (failure !== undefined) {
      failureTold = true
      return Promise.reject(failure)
    }
    if (closed || queued() <= n) return Promise.resolve()
    return new Promise<void>((resolve, reject) => { waiters.push({ n, resolve, reject }) })
  }

  return {
    async ready() {
      if (closed) throw new PublishError(`${where}: publisher closed`, { permanent: false })
      if (connecting !== undefined) return await connecting
      const address = resolver === undefined ? host : resolver.current() ?? await resolver.ready()
      if (address === undefined) throw new PublishError(`StatsD ${host}: not resolved: will retry`, { permanent: false })
      // Connected, healthy, and still where DNS points: nothing to do. Otherwise (first publish, a failure,
      // a new address after the TTL) a new connection; ready() comes between publishes, so nothing is queued.
      if (socket !== undefined && failure === undefined && address === connectedTo) return
      if (socket !== undefined && failure !== undefined && !failureTold) {
        failureTold = true
        const what = failure.message.replace(/: will retry$/, '')
        report?.(new Error(`${what} after the last publish had resolved: its lines may not have arrived`))
      }
      connecting = connect(address).finally(() => { connecting = undefined })
      await connecting
    },
    send(packet) {
      // After a failure the publish rejects and goes again whole: what it sends meanwhile has nowhere to go.
      if (socket === undefined || failure !== undefined || closed) return
      const data = `${packet}\n`
      if (needDrain || head < waiting.length) {
        waiting.push(data)
        waitingBytes += data.length
      } else {
        write(socket, data)
      }
    },
    drained,
    // A refusal (ECONNREFUSED) is a failure like any other here, reported by drained() and ready().
    refused: () => false,
    closed: () => closed,
    // A failed socket keeps its buffer until collected, but none of it will be sent: not ours to count.
    queuedBytes: () => waitingBytes + (socket === undefined || failure !== undefined ? 0 : socket.writableLength),
    async close() {
      if (closed) return
      // Bounded, as the UDP transport's: a server that stopped reading must not hold close() for ever.
      await Promise.race([drained(0).catch(() => {}), new Promise((resolve) => setTimeout(resolve, 2000).unref())])
      closed = true
      resolver?.close()
      const s = socket
      socket = undefined
      // A publish still waiting resolves its drained() and then rejects on closed(): nothing is acked.
      settle()
      if (s === undefined || s.destroyed) return
      if (queued() > 0 || failure !== undefined) {
        forget()
        s.destroy()
        return
      }
      // Everything was taken: a FIN after it, and the server's own close (bounded) before we say closed.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => s.destroy(), 1000).unref()
        s.once('close', () => {
          clearTimeout(timer)
          resolve()
        })
        s.end()
      })
    },
  }
}
