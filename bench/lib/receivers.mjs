// What the contenders send their metrics to, so the bench can count what arrived before it times them:
// a UDP socket per StatsD contender, and a redis-server of our own (never the machine's 6379).
import dgram from 'node:dgram'
import { setTimeout as sleep } from 'node:timers/promises'
import net from 'node:net'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnCommand } from './child.mjs'

/** A UDP socket on 127.0.0.1 counting StatsD packets and lines; keeps a few lines as a sample. */
export async function statsdReceiver() {
  const socket = dgram.createSocket('udp4')
  const stats = { packets: 0, lines: 0, sample: [] }
  socket.on('message', (buf) => {
    stats.packets++
    const text = buf.toString('latin1')
    let lines = 1
    for (let i = text.indexOf('\n'); i !== -1 && i < text.length - 1; i = text.indexOf('\n', i + 1)) lines++
    stats.lines += lines
    if (stats.sample.length < 5) stats.sample.push(text.split('\n')[0])
  })
  await new Promise((resolve, reject) => { socket.once('error', reject); socket.bind(0, '127.0.0.1', resolve) })
  try { socket.setRecvBufferSize(8 * 2 ** 20) } catch { /* the OS may cap it (net.core.rmem_max): the default buffer then */ }
  return { port: socket.address().port, stats, close: () => socket.close() }
}

async function freePort() {
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Starts redis-server on a free port with a temp dir and no persistence; resolves once it answers. */
export async function startRedis({ cpu } = {}) {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routemeter-bench-redis-'))
  const child = spawnCommand('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
    '--logfile', path.join(dir, 'redis.log'),
  ], { cpu })
  const { createClient } = await import('redis')
  const url = `redis://127.0.0.1:${port}`
  const client = createClient({ url, socket: { reconnectStrategy: false } })
  client.on('error', () => {})
  const deadline = Date.now() + 10_000
  for (;;) {
    try { await client.connect(); await client.ping(); break } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(`redis-server on port ${port} did not start: ${err.message} (log: ${path.join(dir, 'redis.log')})`, { cause: err })
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return {
    url,
    client,
    async close() {
      try { await client.quit() } catch { /* the connection is already gone; the server is stopped next either way */ }
      child.kill('SIGTERM')
      await new Promise((resolve) => child.exitCode !== null ? resolve() : child.once('exit', resolve))
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * The receivers `list` needs (its contenders' `needs`): a UDP socket per StatsD contender, one redis-server
 * (pinned to `cpu`) for all Redis ones (`redis`: a redisSink; `redis-client`: a control's client of its own).
 * `optionsFor(c)` is what server.mjs passes the contender; `check(c, served)` ({ ok, detail }) says whether the
 * Redis stream's records cover the requests served (a control's: whether its entries arrived), or whether any
 * StatsD packet arrived (UDP gives no count to hold lines to); `close()` stops them all.
 * Without this a Redis contender would write to the machine's own 6379 and a StatsD one into a closed port.
 */
export async function startReceivers(list, { cpu } = {}) {
  const redis = list.some((c) => c.needs === 'redis' || c.needs === 'redis-client') ? await startRedis({ cpu }) : null
  const udp = {}
  for (const c of list) if (c.needs === 'statsd') udp[c.name] = await statsdReceiver()
  const streamOf = (c) => `routemeter-bench:${c.name}`
  /** Entries in `key`, waiting up to 3 s for the first (a sink's last flush may still be on its way). */
  const entriesIn = async (key) => {
    let entries = 0
    for (let i = 0; i < 30 && entries === 0; i++) { entries = await redis.client.xLen(key); if (!entries) await sleep(100) }
    return entries
  }
  return {
    optionsFor: (c) => ({ statsdPort: udp[c.name]?.port, redisUrl: redis?.url, stream: streamOf(c) }),
    async check(c, served) {
      if (c.needs === 'statsd') {
        const { stats } = udp[c.name]
        for (let i = 0; i < 30 && stats.packets === 0; i++) await sleep(100)
        return {
          ok: stats.packets > 0,
          detail: `UDP receiver got ${stats.packets} packets, ${stats.lines} lines, e.g. ${JSON.stringify(stats.sample[0] ?? '')}`,
        }
      }
      if (c.needs === 'redis-client') {
        // The app's own entries (bare-redis): they carry no records, so that some arrived is what can be checked.
        const entries = await entriesIn(streamOf(c))
        return { ok: entries > 0, detail: `redis stream ${streamOf(c)} holds ${entries} entries of the app's own` }
      }
      if (c.needs === 'redis') {
        const key = streamOf(c)
        const entries = await entriesIn(key)
        // Each entry says how many records it carries (`n`): they must cover every request.
        let records = 0
        for (const { message } of await redis.client.xRange(key, '-', '+')) records += Number(message.n ?? 0)
        return { ok: entries > 0 && records >= served, detail: `redis stream ${key} holds ${entries} entries carrying ${records} records` }
      }
      return { ok: true, detail: '' }
    },
    async close() {
      for (const r of Object.values(udp)) r.close()
      await redis?.close()
    },
  }
}
