/**
 * The Redis sink's own client for one server (`redis://`, `rediss://`): a socket that says AUTH, SELECT and PING once,
 * then only XADD, in RESP2; `resp-replies.ts` reads the replies.
 *
 * ```
 * connect() ─► TCP or TLS ─► [AUTH] [SELECT] PING ─► up ─► xadd(entry): one write, one reply, in order
 *                  └ connectTimeoutMs                        └ the oldest reply later than commandTimeoutMs: the socket ends
 * ```
 *
 * Why not node-redis here: its work around each XADD cost a served app more than everything else the sink
 * does. A control row of the bench (bare, plus one 6,000-byte XADD every 500 requests) added 3.3 µs a json
 * request [1.6…4.6] through node-redis and 1.0 [0.0…2.0] through a plain socket (four and two runs, Node 24, a
 * Zen 4 VM), and node-redis ran ≈ 0.3 M more instructions an XADD: a command object, an `AbortSignal` timer for
 * its 5 s timeout, an extra loop turn before the write, and its general reply decoder. Cluster and Sentinel,
 * which need topology, keep node-redis (`redis-client-writer.ts`).
 */
import net from 'node:net'
import tls from 'node:tls'
import type { EncodedEntry } from '../wire/stream-encoding.js'
import type { RedisServer } from '../redis/url.js'
import type { StreamWriter, WriterFactory, WriterOptions } from './redis-connection.js'
import { replyReader } from './resp-replies.js'

/** A writer's options, and how long a reply may take. */
export interface SocketWriterOptions extends WriterOptions {
  /** A reply later than this ends the connection (a Redis that stopped answering); 0: wait for ever. */
  readonly commandTimeoutMs: number
}

interface Pending {
  readonly settle: (error: Error | undefined) => void
  readonly sentAt: number
}

/**
 * A factory of socket writers to `server`, one per connection, for {@link redisConnection}.
 *
 * @example
 * const open = socketWriter(resolveRedisUrl(url, 'url').server, { stream: 'routemeter', maxLen: 10_000,
 *   source: 'web-1:4242', connectTimeoutMs: 2000, commandTimeoutMs: 5000 })
 * const writer = await open((error) => console.warn('lost', error))
 * await writer.connect()
 * await writer.xadd({ v: '2', n: 1, p: '{"g":[]}', bytes: 8 })
 */
export function socketWriter(server: RedisServer, options: SocketWriterOptions): WriterFactory {
  const { connectTimeoutMs, commandTimeoutMs } = options
  const argc = options.maxLen > 0 ? 14 : 11
  // Everything before the entry's own fields is the same for every XADD: built once.
  const head = `*${argc}\r\n${bulk('XADD')}${bulk(options.stream)}` +
    `${options.maxLen > 0 ? `${bulk('MAXLEN')}${bulk('~')}${bulk(String(options.maxLen))}` : ''}${bulk('*')}${bulk('v')}`
  const nField = bulk('n')
  const pField = bulk('p')
  const tail = `${bulk('s')}${bulk(options.source)}`
  const handshake: string[][] = []
  const { username, password } = server
  if (password !== undefined) handshake.push(username === undefined ? ['AUTH', password] : ['AUTH', username, password])
  if (server.db !== 0) handshake.push(['SELECT', String(server.db)])
  // The connection is up only once Redis has answered on it: a Redis that accepts connections but answers
  // nothing (stopped, swapping) would otherwise look up at every reconnect and be warned about each time.
  handshake.push(['PING'])

  return async (lost) => {
    const socket = server.tls
      ? tls.connect({ host: server.host, port: server.port, ...(net.isIP(server.host) === 0 ? { servername: server.host } : {}) })
      : net.connect({ host: server.host, port: server.port })
    socket.setNoDelay(true)
    socket.unref()
    const pending: Pending[] = []
    let failure: Error | undefined
    let connected: ((error: Error | undefined) => void) | undefined
    let replyTimer: NodeJS.Timeout | undefined
    let closing = false

    /** Ends the connection for `error`: every waiting command fails with it, once; later calls do nothing. */
    const fail = (error: Error): void => {
      if (failure !== undefined) return
      failure = error
      socket.destroy()
      if (replyTimer !== undefined) clearTimeout(replyTimer)
      for (const p of pending.splice(0)) p.settle(error)
      if (connected !== undefined) connected(error)
      else if (!closing) lost(error)
    }

    const watchReplies = (): void => {
      if (replyTimer !== undefined || commandTimeoutMs === 0 || pending.length === 0) return
      replyTimer = setTimeout(() => {
        replyTimer = undefined
        const oldest = pending[0]
        if (oldest === undefined) return
        if (Date.now() - oldest.sentAt >= commandTimeoutMs) fail(new Error(`Redis did not answer within ${commandTimeoutMs} ms`))
        else watchReplies()
      }, pending[0].sentAt + commandTimeoutMs - Date.now())
      replyTimer.unref()
    }

    const send = (bytes: string): Promise<void> => {
      if (failure !== undefined) return Promise.reject(failure)
      return new Promise<void>((resolve, reject) => {
        pending.push({ settle: (error) => { if (error === undefined) resolve(); else reject(error) }, sentAt: Date.now() })
        socket.write(bytes)
        watchReplies()
      })
    }

    const settleOldest = (error: Error | undefined): void => {
      const p = pending.shift()
      if (p === undefined) { fail(new Error('Redis sent a reply nobody asked for')); return }
      p.settle(error)
      if (closing && pending.length === 0) socket.end()
    }

    // Replies come back in the order the commands left: each settles the oldest command waiting.
    socket.on('data', replyReader({ reply: settleOldest, broken: fail }))
    socket.on('error', fail)
    socket.on('close', () => { fail(new Error('connection closed')) })

    const writer: StreamWriter = {
      connect: () => new Promise<void>((resolve, reject) => {
        // Called right after the factory returns, before any socket event can run; if one ever did, the
        // failure it brought must not leave connect() waiting for ever.
        if (failure !== undefined) { reject(failure); return }
        const timer = connectTimeoutMs > 0
          ? setTimeout(() => fail(new Error(`connection timed out after ${connectTimeoutMs} ms`)), connectTimeoutMs).unref()
          : undefined
        connected = (error) => {
          connected = undefined
          clearTimeout(timer)
          if (error === undefined) resolve()
          else reject(error)
        }
        socket.once(server.tls ? 'secureConnect' : 'connect', () => {
          Promise.all(handshake.map((args) => send(command(args)))).then(() => connected?.(undefined), (error: Error) => fail(error))
        })
      }),
      xadd: (entry: EncodedEntry) => send(`${head}${bulk(entry.v)}${nField}${bulk(String(entry.n))}${pField}${bulk(entry.p)}${tail}`),
      close: () => new Promise<void>((resolve) => {
        closing = true
        if (failure !== undefined) { resolve(); return }
        // Ref'd while it closes: whoever awaits close() wants the replies and the goodbye (TLS sends one),
        // and unref'd the process could exit first. The connection destroys the socket after 1 s.
        socket.ref()
        socket.once('close', () => resolve())
        if (pending.length === 0) socket.end()
      }),
      end: () => {
        closing = true
        if (failure === undefined && pending.length === 0) socket.end()
      },
      destroy: () => { closing = true; fail(new Error('destroyed')) },
    }
    return writer
  }
}

/** One RESP bulk string: `$<UTF-8 length>\r\n<text>\r\n`. */
function bulk(text: string): string {
  return `$${Buffer.byteLength(text)}\r\n${text}\r\n`
}

/** A command as a RESP array of bulk strings. */
function command(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map(bulk).join('')}`
}
