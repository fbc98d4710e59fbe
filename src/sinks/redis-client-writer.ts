/**
 * The Redis sink's client for Cluster and Sentinel: node-redis, which finds the node that owns the stream's
 * slot or the current master. One server gets the sink's own socket instead (`redis-socket.ts`).
 */
import type { RedisTarget } from '../redis/target.js'
import type { WriterFactory, WriterOptions } from './redis-connection.js'

/**
 * A factory of node-redis clients to `target`, as {@link StreamWriter}s: no offline queue, no reconnection of
 * their own (the sink's connection does both). node-redis is loaded at the first call.
 *
 * @example
 * const open = clientWriter(resolveRedisTarget('redis+cluster://a:6379,b:6379', 'url'), { stream: 'routemeter',
 *   maxLen: 10_000, source: 'web-1:4242', connectTimeoutMs: 2000 })
 */
export function clientWriter(target: RedisTarget, options: WriterOptions): WriterFactory {
  const { stream, source, connectTimeoutMs } = options
  const threshold = options.maxLen
  const trim = threshold > 0 ? { TRIM: { strategy: 'MAXLEN' as const, strategyModifier: '~' as const, threshold } } : undefined
  return async (lost) => {
    const client = await target.create({ disableOfflineQueue: true, reconnect: false, connectTimeoutMs })
    client.on('error', lost)
    client.on('end', () => lost(new Error('connection closed')))
    // Standalone clients can unref their socket; Cluster and Sentinel clients cannot (README, Deploying).
    if (typeof client.unref === 'function') client.unref()
    return {
      connect: async () => { await client.connect() },
      xadd: async (entry) => { await client.xAdd(stream, '*', { v: entry.v, n: String(entry.n), p: entry.p, s: source }, trim) },
      close: () => client.close(),
      end: () => { client.close().catch(() => { /* ends anyway */ }) },
      destroy: () => { client.destroy() },
    }
  }
}
