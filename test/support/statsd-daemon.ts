/**
 * A real StatsD daemon (the npm `statsd` package, etsy's) for one test file: a child process on a free
 * loopback UDP port, flushing every `flushInterval` ms to a JSON backend (statsd-json-backend.cjs) whose
 * lines this helper sums, so a test reads exactly what the daemon received: counter totals, every timer
 * value, and its bad-line count.
 */
import { spawn } from 'node:child_process'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Socket } from 'node:net'
import { freePort, stopChild, trackChild, waitFor } from './services.js'

export interface StatsdDaemon {
  /** UDP port the daemon reads. */
  readonly port: number
  /** Counter totals over every flush so far (the daemon's own `statsd.*` counters included). */
  readonly counters: Map<string, number>
  /** Flushes read so far. */
  readonly flushes: number
  /** Every timer value received so far, per key (`name;tag=value;…` when lines carried DogStatsD tags). */
  readonly timers: Map<string, number[]>
  /** Waits until `check()` holds, reading new flushes meanwhile. */
  until(what: string, check: () => boolean, timeoutMs?: number): Promise<void>
  /**
   * Datagrams the kernel dropped on the daemon's socket (receive buffer full): the `drops` column of
   * /proc/net/udp. `undefined` where there is no such file (not Linux).
   */
  kernelDrops(): number | undefined
  /** Forgets everything received so far. */
  reset(): void
  stop(): Promise<void>
}

/**
 * A loopback UDP port that was free a moment ago.
 *
 * @example
 * const publisher = statsdPublisher({ port: await freeUdpPort() }) // nobody listens there yet
 */
export async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4')
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  const { port } = socket.address()
  await new Promise<void>((resolve) => socket.close(() => resolve()))
  return port
}

/**
 * Starts `statsd` with a config on a free UDP port (or `port`) and a free management TCP port.
 *
 * @example
 * const daemon = await startStatsd()
 * await daemon.until('1 request', () => daemon.counters.get('users.id.Failure') === 1)
 */
export async function startStatsd(options: { flushInterval?: number, port?: number } = {}): Promise<StatsdDaemon> {
  const require = createRequire(__filename)
  const main = require.resolve('statsd/stats.js')
  const [port, mgmtPort] = [options.port ?? await freeUdpPort(), await freePort()]
  const dir = mkdtempSync(join(tmpdir(), 'routemeter-statsd-'))
  const config = join(dir, 'config.js')
  writeFileSync(config, `module.exports = ${JSON.stringify({
    address: '127.0.0.1', port, mgmt_address: '127.0.0.1', mgmt_port: mgmtPort,
    flushInterval: options.flushInterval ?? 200, deleteIdleStats: true,
    backends: [join(__dirname, 'statsd-json-backend.cjs')],
  })}\n`)
  const shim = join(__dirname, 'statsd-node24-shim.cjs')
  const child = spawn(process.execPath, ['--require', shim, main, config], { stdio: ['ignore', 'pipe', 'pipe'] })
  const untrack = trackChild(child)
  let exited = false
  let log = ''
  child.once('exit', () => { exited = true })
  child.stderr.on('data', (chunk: Buffer) => { log += chunk.toString() })
  const counters = new Map<string, number>()
  const timers = new Map<string, number[]>()
  let flushes = 0
  let pending = ''
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString()
    let at: number
    while ((at = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, at)
      pending = pending.slice(at + 1)
      if (!line.startsWith('{"timestamp"')) { log += `${line}\n`; continue }
      flushes++
      const flush = JSON.parse(line) as { counters: Record<string, number>, timers: Record<string, number[]> }
      for (const key in flush.counters) counters.set(key, (counters.get(key) ?? 0) + flush.counters[key]!)
      for (const key in flush.timers) {
        if (flush.timers[key]!.length === 0) continue
        const list = timers.get(key) ?? []
        list.push(...flush.timers[key]!)
        timers.set(key, list)
      }
    }
  })
  // The management interface listens once the UDP server is up: its `health` answer is the daemon's ready.
  await waitFor(`statsd on udp ${port}`, async () => {
    if (exited) throw new Error(`statsd exited:\n${log}`)
    return await health(mgmtPort)
  }, 10_000)
  return {
    port, counters, timers,
    get flushes() { return flushes },
    async until(what, check, timeoutMs = 20_000) {
      try {
        await waitFor(what, check, timeoutMs)
      } catch (error) {
        const seen = [...timers].map(([k, v]) => `${k}: ${v.length} timings`).concat([...counters].map(([k, v]) => `${k}: ${v}`))
        throw new Error(`${(error as Error).message}; statsd has:\n${seen.join('\n')}\n${log}`, { cause: error })
      }
    },
    kernelDrops() {
      if (!existsSync('/proc/net/udp')) return undefined
      const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
      const rows = readFileSync('/proc/net/udp', 'utf8').split('\n').map((line) => line.trim().split(/\s+/))
      const row = rows.find((cols) => cols[1] === local)
      return row === undefined ? undefined : Number(row[row.length - 1])
    },
    reset() { counters.clear(); timers.clear() },
    async stop() {
      await stopChild(child, 5000)
      untrack()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function health(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket()
    let answer = ''
    socket.setTimeout(1000, () => { socket.destroy(); resolve(false) })
    socket.once('error', () => resolve(false))
    socket.on('data', (chunk) => {
      answer += chunk.toString()
      if (answer.includes('health: up')) { socket.destroy(); resolve(true) }
    })
    socket.connect(port, '127.0.0.1', () => socket.write('health\n'))
  })
}
