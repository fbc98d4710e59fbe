#!/usr/bin/env node
/**
 * Which HTTP client the agent's InfluxDB publisher should use: Node's global `fetch` or `undici.request`
 * (a dependency users would have to install). Both write the same line-protocol bodies to a private influxd,
 * in interleaved rounds; reported per write: client CPU (the agent's own cost) and wall time (what bounds
 * the drain), medians over rounds.
 *
 *   node bench/influx-http-client.mjs [--rounds 7] [--writes 40] [--lines 4000]
 *
 * Bodies are the size the agent sends when draining a backlog (one write per read of 100 entries ≈ 4,000
 * series lines). Checks before it times: each client's writes must all answer 204.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Agent, request } from 'undici'
import { writeInfluxdConfig } from './lib/influxd.mjs'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    writes: { type: 'string', default: '40' },
    lines: { type: 'string', default: '4000' },
  },
})
const ROUNDS = Number(values.rounds)
const WRITES = Number(values.writes)
const LINES = Number(values.lines)

const freePort = () => new Promise((resolve) => {
  const s = createServer()
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address()
    s.close(() => resolve(port))
  })
})
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }

const [port, rpc] = [await freePort(), await freePort()]
const dir = mkdtempSync(join(tmpdir(), 'rm-bench-influx-client-'))
const config = writeInfluxdConfig(dir, port, rpc)
const influxd = spawn('influxd', ['run', '-config', config], { stdio: 'ignore' })
const base = `http://127.0.0.1:${port}`
try {
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${base}/ping`)).status === 204) break } catch { /* starting */ }
    if (i > 400) throw new Error('influxd did not start')
    await new Promise((r) => setTimeout(r, 50))
  }
  await fetch(`${base}/query?q=${encodeURIComponent('CREATE DATABASE bench')}`, { method: 'POST' })
  const url = `${base}/write?db=bench&precision=ns`
  const headers = { 'content-type': 'text/plain; charset=utf-8' }
  let t = 1_763_798_400_000_000_000n
  const body = () => Array.from(
    { length: LINES },
    (_, i) => `RequestTime,route=api.v1.r${i % 40},method=GET count=${i % 9 + 1}i,sum=${i / 7},min=0.5,max=${i % 97} ${t++}`,
  ).join('\n')

  const dispatcher = new Agent({ connections: 4, keepAliveTimeout: 30_000 })
  const clients = {
    fetch: async (b) => {
      const res = await fetch(url, { method: 'POST', headers, body: b, signal: AbortSignal.timeout(10_000) })
      await res.body?.cancel()
      return res.status
    },
    'undici.request': async (b) => {
      const res = await request(url, { method: 'POST', headers, body: b, dispatcher, signal: AbortSignal.timeout(10_000) })
      await res.body.dump()
      return res.statusCode
    },
  }
  const samples = Object.fromEntries(Object.keys(clients).map((k) => [k, { cpu: [], wall: [] }]))
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? Object.keys(clients) : Object.keys(clients).reverse()
    for (const name of order) {
      const bodies = Array.from({ length: WRITES }, body)
      const cpu0 = process.cpuUsage()
      const wall0 = performance.now()
      for (const b of bodies) {
        const status = await clients[name](b)
        if (status !== 204) throw new Error(`${name}: influxd answered ${status}`)
      }
      const wall = performance.now() - wall0
      const cpu = process.cpuUsage(cpu0)
      samples[name].cpu.push((cpu.user + cpu.system) / 1000 / WRITES)
      samples[name].wall.push(wall / WRITES)
    }
  }
  console.log(
    `node ${process.version}; ${ROUNDS} rounds × ${WRITES} writes of ${LINES} lines (${(body().length / 1024).toFixed(0)} KiB); ` +
    'medians per write',
  )
  console.log('| client | client CPU ms/write | wall ms/write |\n| --- | --: | --: |')
  for (const [name, s] of Object.entries(samples)) console.log(`| ${name} | ${median(s.cpu).toFixed(3)} | ${median(s.wall).toFixed(2)} |`)
  await dispatcher.close()
} finally {
  influxd.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
}
