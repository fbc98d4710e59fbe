/*
 * `npm start -- --live`: the demo's shop app writing to a Redis stream under a steady, slowly swelling load, and
 * `routemeter top` on that stream in this terminal, until you press q. The pipeline is the real one:
 *
 *   load ─► shop app (withMetrics + redisSink) ─► redis-server (its own, on a free port) ─► routemeter top
 *
 * It starts a redis-server of its own on a free loopback port (never the machine's one on 6379) with no
 * persistence, and stops it at the end; without `redis-server` on PATH it says what to install and exits 1.
 * `top` runs as a child process with this terminal (stdio inherited), started from the project's sources as
 * `routemeter top --redis … --window 30s`: a short window, so the figures settle within half a minute. While it
 * runs, this process writes nothing to the terminal: the app's and the sink's messages are kept and printed
 * once the screen is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createConnection, createServer } from 'node:net'
import { delimiter, join } from 'node:path'
import { metrics, redisSink, withMetrics } from 'routemeter'
import { shopApp } from './app.js'
import { drive } from './load.js'

const ROOT = join(__dirname, '..', '..')
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Runs the live demo until `top` exits; resolves with the exit code for the process (top's own, or 1 when
 * redis-server is missing or will not start).
 *
 * @example
 * process.exitCode = await live({ rate: 300 })
 */
export async function live(options: { rate: number }): Promise<number> {
  const redisServer = onPath('redis-server')
  if (redisServer === undefined) {
    console.error('routemeter demo --live: needs `redis-server` on PATH (Debian: apt-get install redis-server; macOS: brew install redis).')
    console.error('`npm start` without --live runs the demo in memory.')
    return 1
  }
  const port = await freePort()
  const redis = spawn(redisServer, [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning',
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let redisLog = ''
  redis.stderr?.on('data', (chunk: Buffer) => { redisLog += chunk.toString() })
  const stopRedis = async (): Promise<void> => {
    if (redis.exitCode !== null || redis.signalCode !== null) return
    const exited = once(redis, 'exit')
    redis.kill('SIGTERM')
    await exited
  }
  if (!(await pong(port, redis))) {
    console.error(`routemeter demo --live: redis-server did not start on port ${port}${redisLog === '' ? '' : `:\n${redisLog}`}`)
    await stopRedis()
    return 1
  }

  // Everything the app side would print waits until the screen is gone.
  const held: string[] = []
  const url = `redis://127.0.0.1:${port}`
  const sink = redisSink({ url, onError: (error) => { held.push(error.message) } })
  const app = withMetrics(shopApp, { sink, dimensions: { service: 'shop' } })
  const server = http.createServer((req, res) => {
    app(req, res).catch((error: unknown) => {
      held.push(String(error))
      if (!res.headersSent) res.writeHead(500)
      if (!res.writableEnded) res.end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const appPort = (server.address() as AddressInfo).port

  let running = true
  const load = steadyLoad(appPort, options.rate, () => running).catch((error: unknown) => { held.push(`load: ${String(error)}`) })

  const cli = join(ROOT, 'src', 'cli', 'main.ts')
  const top = spawn(process.execPath, ['--import', 'tsx', cli, 'top', '--redis', url, '--window', '30s'], { cwd: ROOT, stdio: 'inherit' })
  // A signal to this process ends top first, so it gives the terminal back, then everything else.
  const forward = (signal: NodeJS.Signals): void => { top.kill(signal) }
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  const code = await exitCode(top)
  process.off('SIGINT', forward)
  process.off('SIGTERM', forward)

  running = false
  await load
  server.close()
  await metrics.close()
  await stopRedis()
  for (const line of held) console.error(line)
  const { delivered, entries } = sink.stats()
  console.log(`routemeter demo --live: ${delivered} requests in ${entries} stream entries went through ${url}; redis-server stopped.`)
  return code
}

/** drive() repeats its mix of routes every 20 requests, starting afresh at each call. */
const MIX = 20

/**
 * About `rate` requests a second of the demo's mix, swelling and easing over a 40 s cycle (0.5× to 1.5×) so the
 * sparklines have a shape; until `more()` turns false. Each tick sends whole rounds of the mix: a tick of 15
 * requests would never reach the mix's last routes, and their sparklines would show gaps that are not there.
 */
async function steadyLoad(port: number, rate: number, more: () => boolean): Promise<void> {
  const started = performance.now()
  const tickMs = 250
  while (more()) {
    const tick = performance.now()
    const swell = 1 + 0.5 * Math.sin(((tick - started) / 40_000) * 2 * Math.PI)
    const rounds = Math.max(1, Math.round((rate * swell * tickMs) / 1000 / MIX))
    await drive(port, { total: rounds * MIX, concurrency: 4 })
    await sleep(Math.max(0, tickMs - (performance.now() - tick)))
  }
}

function exitCode(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('error', (error) => {
      console.error(`routemeter demo --live: cannot start routemeter top: ${error.message}`)
      resolve(1)
    })
    child.once('exit', (code, signal) => { resolve(code ?? (signal === null ? 1 : 128 + (signal === 'SIGINT' ? 2 : 15))) })
  })
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    try { accessSync(join(dir, name), constants.X_OK); return join(dir, name) } catch { /* not in this one */ }
  }
  return undefined
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
}

/** True once redis-server on `port` answers PING (within 10 s), false if it exits or never does. */
async function pong(port: number, redis: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline && redis.exitCode === null) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection(port, '127.0.0.1')
      const done = (answer: boolean): void => { socket.destroy(); resolve(answer) }
      socket.setTimeout(500, () => done(false))
      socket.once('error', () => done(false))
      socket.once('data', (data) => done(data.toString().startsWith('+PONG')))
      socket.once('connect', () => socket.write('PING\r\n'))
    })
    if (ok) return true
    await sleep(50)
  }
  return false
}
