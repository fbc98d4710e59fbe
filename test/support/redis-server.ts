/**
 * A private `redis-server` for one test file: a free loopback port, a temp dir, append-only persistence
 * (so a stop/start keeps the stream, like a real restart), and a `stop()` that always reaps the process.
 * `redisSuite` is the setup of a suite that needs one.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Socket } from 'node:net'
import { freePort, lateBound, REDIS, serviceSuite, stopChild, trackChild, untilServing, waitFor, type ServiceSuite } from './services.js'

export interface RedisServer {
  readonly port: number
  /** `redis://[:password@]127.0.0.1:<port>` */
  readonly url: string
  /** Stops the server (SIGTERM, then SIGKILL after 3 s). The data dir stays until `stop()` with `{ keepData: false }`. */
  stop(options?: { keepData?: boolean }): Promise<void>
  /** Starts it again on the same port and data dir. */
  start(): Promise<void>
  /** SIGKILL, no save. */
  kill(): Promise<void>
  /** SIGSTOP (`true`) or SIGCONT (`false`): a server that accepts bytes and answers nothing, until resumed. */
  freeze(frozen: boolean): void
  /** With `{ tls: true }`: `rediss://127.0.0.1:<tlsPort>` and the self-signed certificate to trust (NODE_EXTRA_CA_CERTS). */
  readonly tls?: { readonly url: string, readonly caFile: string }
}

/**
 * Starts a private redis-server (with a password, TLS or as a one-node cluster when asked); resolves once it
 * answers PING.
 *
 * @example
 * const redis = await startRedis({ password: 's3cret' })
 * const sink = redisSink({ url: redis.url })
 */
export async function startRedis(options: { password?: string, tls?: boolean, cluster?: boolean } = {}): Promise<RedisServer> {
  const port = await freePort()
  const tlsPort = options.tls === true ? await freePort() : 0
  const dir = mkdtempSync(join(tmpdir(), 'routemeter-redis-'))
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  if (options.tls === true) {
    // A self-signed certificate for 127.0.0.1, used as its own CA by the client (needs `openssl`).
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
  }
  let child: ChildProcess | undefined
  let untrack = (): void => {}
  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`

  const start = async (): Promise<void> => {
    const args = [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes',
      '--appendfsync', 'always', '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'warning',
    ]
    if (options.password !== undefined) args.push('--requirepass', options.password)
    if (options.cluster === true) args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'))
    if (options.tls === true) {
      args.push('--tls-port', String(tlsPort), '--tls-cert-file', certFile, '--tls-key-file', keyFile, '--tls-ca-cert-file', certFile,
        '--tls-auth-clients', 'no')
    }
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] })
    child = proc
    untrack = trackChild(proc)
    await untilServing(proc, `redis-server on port ${port}`, () => ping(port, options.password), 10_000)
  }

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child
    child = undefined
    if (proc !== undefined) await stopChild(proc, 3000, signal)
    untrack()
  }

  await start()
  if (options.cluster === true) {
    // A one-node cluster owning every slot: a real Cluster (MOVED, CLUSTER SLOTS) at the cost of one process.
    await command(port, options.password, 'CLUSTER ADDSLOTSRANGE 0 16383')
    const clusterOk = async (): Promise<boolean> => (await command(port, options.password, 'CLUSTER INFO')).includes('cluster_state:ok')
    await waitFor('cluster_state:ok', clusterOk, 10_000, 50)
  }
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    ...(options.tls === true ? { tls: { url: `rediss://${auth}127.0.0.1:${tlsPort}`, caFile: certFile } } : {}),
    start,
    kill: () => halt('SIGKILL'),
    freeze(frozen) { child?.kill(frozen ? 'SIGSTOP' : 'SIGCONT') },
    async stop({ keepData = true } = {}) {
      await halt('SIGTERM')
      if (!keepData) rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** What `redisSuite` gives a test file. */
export interface RedisSuite extends ServiceSuite {
  /** The suite's redis-server, running from before the first test to after the last. Use it inside tests. */
  readonly redis: RedisServer
}

/**
 * A suite with a private redis-server, started before its first test and removed after its last; its tests
 * that need it are skipped when `redis-server` is missing, as `servicesAvailable` says.
 *
 * @example
 * const { test, it, redis } = redisSuite('agent → real StatsD daemon', { file: 'test/agent/statsd-daemon.test.ts' })
 */
export function redisSuite(name: string, options: { file: string, password?: string }): RedisSuite {
  const base = serviceSuite(name, options.file, [REDIS])
  let redis: RedisServer | undefined
  base.test.before(async () => { if (base.available) redis = await startRedis({ password: options.password }) })
  base.atEnd(async () => { await redis?.stop({ keepData: false }) })
  return { ...base, redis: lateBound<RedisServer>('redis-server', () => redis) }
}

/** One PING over a raw socket: true once the server answers PONG (or NOAUTH-free PONG after AUTH). */
function ping(port: number, password?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket()
    let data = ''
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.setTimeout(500, () => done(false))
    socket.once('error', () => done(false))
    socket.on('data', (chunk) => {
      data += chunk.toString()
      if (data.includes('+PONG')) done(true)
      else if (data.includes('-')) done(false)
    })
    socket.connect(port, '127.0.0.1', () => {
      socket.write((password === undefined ? '' : `AUTH ${password}\r\n`) + 'PING\r\n')
    })
  })
}

/**
 * One inline command over a raw socket; resolves with whatever the server wrote back within 300 ms.
 *
 * @example
 * await command(redis.port, undefined, 'XLEN routemeter') // ':3\r\n'
 */
export function command(port: number, password: string | undefined, line: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = new Socket()
    let data = ''
    const done = (): void => { socket.destroy(); resolve(data) }
    socket.setTimeout(300, done)
    socket.once('error', done)
    socket.on('data', (chunk) => { data += chunk.toString() })
    socket.connect(port, '127.0.0.1', () => socket.write((password === undefined ? '' : `AUTH ${password}\r\n`) + line + '\r\n'))
  })
}

export interface Sentinel {
  readonly port: number
  stop(): Promise<void>
}

/**
 * A `redis-server --sentinel` watching the master on `masterPort` under `name` (quorum 1).
 *
 * @example
 * const sentinel = await startSentinel(redis.port, 'mymaster')
 */
export async function startSentinel(masterPort: number, name: string, password?: string): Promise<Sentinel> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'routemeter-sentinel-'))
  const config = join(dir, 'sentinel.conf')
  writeFileSync(config, [
    `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, 'protected-mode no',
    `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`,
    ...(password === undefined ? [] : [`sentinel auth-pass ${name} ${password}`]),
    '',
  ].join('\n'))
  const proc = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' })
  const untrack = trackChild(proc)
  const watching = async (): Promise<boolean> =>
    (await command(port, undefined, `SENTINEL GET-MASTER-ADDR-BY-NAME ${name}`)).includes(String(masterPort))
  await waitFor(`sentinel on ${port}`, watching, 10_000, 50)
  return {
    port,
    async stop() {
      await stopChild(proc, 0, 'SIGKILL')
      untrack()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
