/**
 * Where Redis is: one server, a Cluster, or a master found through Sentinel, all named by one URL so the
 * sink option `url`, the agent option `redis` and `ROUTEMETER_REDIS_URL` work the same way:
 *
 * ```
 * redis://[user:password@]host[:port][/db]               one server (rediss:// for TLS)
 * redis+cluster://[user:password@]host:port,host:port     Cluster: any reachable nodes, topology is discovered
 * redis+sentinel://[user:password@]host:port,host:port/<master name>   Sentinel: the sentinels, then the master
 * ```
 *
 * (`rediss+cluster://` and `rediss+sentinel://` for TLS.) Credentials are the data nodes' (ACL user or
 * `requirepass`). `create` makes node-redis (`redis`) clients, loaded on first connect; the sink writes to one
 * server on a socket of its own, from `server`.
 */
import type { RedisClientType } from 'redis'
import { OptionError } from '../util/option-check.js'
import { redactor, secretForms, urlSecrets, type Redact } from '../util/redact.js'
import { redisUrlText, resolveRedisUrl, type RedisServer } from './url.js'

/** How a connection should behave; the sink and the agent want different things. */
export interface RedisTuning {
  /** Reject commands while disconnected instead of queueing them (the sink keeps its own bounded backlog). */
  readonly disableOfflineQueue: boolean
  /** Let node-redis reconnect by itself (the agent) or give up at once so the caller decides (the sink). */
  readonly reconnect: boolean
  readonly connectTimeoutMs: number
}

/** A validated Redis location. */
export interface RedisTarget {
  readonly kind: 'standalone' | 'cluster' | 'sentinel'
  /** The URL with the password replaced by `***`, for logs and errors. */
  readonly safe: string
  /** Removes the password, in every spelling (raw, percent-encoded, JSON-escaped…), from any text. */
  readonly redact: Redact
  /**
   * A new, not yet connected client. Cluster and Sentinel clients are typed as the standalone client: they
   * answer the same stream commands (`xAdd`, `xReadGroup`, …), which is all routemeter uses.
   */
  create(tuning: RedisTuning): Promise<RedisClientType>
  /** The one server of a `standalone` target, for a client of its own (the sink's); undefined for the others. */
  readonly server?: RedisServer
}

// Credentials run to the LAST `@` of the authority (greedy), as the URL parser reads a single server's URL: a
// password may hold an unescaped `@` (`:p4@ss@a:1,b:2`), and cut at the first one it would be half a host name.
const MULTI = /^(rediss?)\+(cluster|sentinel):\/\/(?:([^/?#]*)@)?([^/?#@]+)(\/[^?#]*)?$/

/**
 * Parses and validates `url` (falling back to `ROUTEMETER_REDIS_URL`, then `redis://127.0.0.1:6379`).
 * Throws an {@link OptionError} for option `option` of factory `owner` (`redisSink`, `startAgent`) for
 * anything it cannot use, never echoing the URL: it may hold a password.
 *
 * @example
 * resolveRedisTarget('redis+sentinel://:pw@s1:26379,s2:26379/mymaster', 'url', 'redisSink').safe
 * // 'redis+sentinel://:***@s1:26379,s2:26379/mymaster'
 */
export function resolveRedisTarget(url: unknown, option: string, owner = ''): RedisTarget {
  const text = redisUrlText(url)
  const multi = typeof text === 'string' ? MULTI.exec(text) : null
  if (multi === null) {
    const single = resolveRedisUrl(text, option, owner)
    return {
      kind: 'standalone', safe: single.safe, redact: single.redact, server: single.server,
      async create(tuning) {
        const { createClient } = await import('redis')
        return createClient({
          url: single.href, disableOfflineQueue: tuning.disableOfflineQueue,
          socket: { connectTimeout: tuning.connectTimeoutMs, ...(tuning.reconnect ? {} : { reconnectStrategy: false }) },
        })
      },
    }
  }

  const bad = (message: string): OptionError => new OptionError(owner, option, `${message} (the URL is not shown: it may hold a password)`)
  type Parts = [string, 'redis' | 'rediss', 'cluster' | 'sentinel', string | undefined, string, string | undefined]
  const [, scheme, kind, credentials, hostList, path] = multi as unknown as Parts
  let username: string | undefined
  let password: string | undefined
  if (credentials !== undefined && credentials !== '') {
    const colon = credentials.indexOf(':')
    const user = colon === -1 ? credentials : credentials.slice(0, colon)
    const pass = colon === -1 ? undefined : credentials.slice(colon + 1)
    try {
      username = user === '' ? undefined : decodeURIComponent(user)
      password = pass === undefined || pass === '' ? undefined : decodeURIComponent(pass)
    } catch { throw bad('has malformed percent-encoding in its credentials') }
  }
  const defaultPort = kind === 'cluster' ? 6379 : 26379
  const hosts = hostList.split(',').map((part) => {
    const found = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(part)
    const port = found?.[2] === undefined ? defaultPort : Number(found[2])
    if (found === null || port < 1 || port > 65535) {
      throw bad('must list its hosts as host:port,host:port with ports from 1 to 65535')
    }
    return { host: found[1].replace(/^\[(.*)\]$/, '$1'), port }
  })
  let master = ''
  try { master = path === undefined ? '' : decodeURIComponent(path.slice(1)) } catch {
    throw bad('has malformed percent-encoding in its path')
  }
  if (kind === 'sentinel' && master === '') {
    throw bad('must name the master as its path: redis+sentinel://host:26379,host:26379/<master name>')
  }
  const tls = scheme === 'rediss'
  const redact = redactor([...urlSecrets(text as string), ...secretForms(password ?? '')])
  const shownUser = username === undefined ? '' : encodeURIComponent(username)
  const shownCredentials = username === undefined && password === undefined ? '' : `${shownUser}${password === undefined ? '' : ':***'}@`
  const safe = `${scheme}+${kind}://${shownCredentials}${hostList}${path ?? ''}`

  return {
    kind, safe, redact,
    async create(tuning) {
      const { createCluster, createSentinel } = await import('redis')
      const socket = {
        connectTimeout: tuning.connectTimeoutMs,
        ...(tuning.reconnect ? {} : { reconnectStrategy: false as const }),
        ...(tls ? { tls: true as const } : {}),
      }
      const node = { username, password, disableOfflineQueue: tuning.disableOfflineQueue, socket }
      if (kind === 'cluster') {
        return createCluster({
          rootNodes: hosts.map((h) => ({ socket: { ...socket, host: h.host, port: h.port } })),
          defaults: node,
        }) as unknown as RedisClientType
      }
      return createSentinel({
        name: master,
        sentinelRootNodes: hosts,
        nodeClientOptions: node,
        sentinelClientOptions: { socket },
      }) as unknown as RedisClientType
    },
  }
}
