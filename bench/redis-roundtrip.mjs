#!/usr/bin/env node
// What one XADD through node-redis costs the process that sends it, in µs of its CPU (user + system), against
// a redis-server this script starts (free port, no persistence): the Redis sink's per-flush price, apart from
// the records it encodes.
//
//   node bench/redis-roundtrip.mjs [--rounds 5] [--gap 20]
//
// Three ways of sending, each round interleaved with a baseline that does the same waiting without Redis, and a
// row without Redis at all:
//   pipelined   100 XADDs issued at once, awaited together: node-redis' own work per command
//   sequential  one XADD, await its reply, the next: adds the wait for each reply (the process sleeps in epoll
//               and is woken by the reply)
//   sparse      one XADD every `--gap` ms, far apart as a sink's (a flush every 500 records, else every second):
//               adds whatever a call that runs rarely costs (code and data out of the caches, a wake-up for the reply)
//   wake-up     no Redis: a 1 ms timer awaited, less an immediate awaited: what the process is charged each time
//               it sleeps in epoll and is woken, the part of `sequential` that is not node-redis' work
// Printed: the median round, with the lowest and highest, of (CPU with XADDs − CPU of its baseline) / XADDs.
// The sparse baseline is a timer of the same gap, whose own wake-ups are thus taken out. A full garbage collection
// before each half keeps one half from paying the other's debt: without it, sparse rounds ranged −757…+825 µs.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { parseArgs } from 'node:util'
import { startRedis } from './lib/receivers.mjs'
import { median } from './lib/stats.mjs'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, gap: { type: 'string', default: '20' } } })
const ROUNDS = Number(values.rounds)
const GAP_MS = Number(values.gap)
const PIPELINED = 2000
const SEQUENTIAL = 1000
const SPARSE = 100
const WAKES = 500

const redis = await startRedis()
const { createClient } = await import('redis')
const client = createClient({ url: redis.url })
await client.connect()
// The fields a redisSink entry carries; the payload stands for a small flush.
const xadd = () => client.xAdd('routemeter-roundtrip', '*', { v: '2', n: '500', p: '{"t":0}', s: 'bench' }, {
  TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: 1000 },
})
const immediate = () => new Promise((resolve) => setImmediate(resolve))
const gap = () => new Promise((resolve) => setTimeout(resolve, GAP_MS))
const oneMs = () => new Promise((resolve) => setTimeout(resolve, 1))

setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc')

/** CPU µs `run` takes, after a full collection. */
async function cpuOf(run) {
  collectGarbage()
  const from = process.cpuUsage()
  await run()
  const used = process.cpuUsage(from)
  return used.user + used.system
}

const modes = {
  pipelined: {
    calls: PIPELINED,
    withRedis: async () => { for (let i = 0; i < PIPELINED; i += 100) await Promise.all(Array.from({ length: 100 }, xadd)) },
    baseline: async () => { for (let i = 0; i < PIPELINED; i += 100) await Promise.all(Array.from({ length: 100 }, immediate)) },
  },
  sequential: {
    calls: SEQUENTIAL,
    withRedis: async () => { for (let i = 0; i < SEQUENTIAL; i++) await xadd() },
    baseline: async () => { for (let i = 0; i < SEQUENTIAL; i++) await immediate() },
  },
  sparse: {
    calls: SPARSE,
    withRedis: async () => { for (let i = 0; i < SPARSE; i++) { await xadd(); await gap() } },
    baseline: async () => { for (let i = 0; i < SPARSE; i++) await gap() },
  },
  'wake-up': {
    calls: WAKES,
    withRedis: async () => { for (let i = 0; i < WAKES; i++) await oneMs() },
    baseline: async () => { for (let i = 0; i < WAKES; i++) await immediate() },
  },
}

try {
  // Warm-up: every path once at full length, so the first round does not pay for compiling it.
  for (const mode of Object.values(modes)) { await mode.withRedis(); await mode.baseline() }
  const perCall = Object.fromEntries(Object.keys(modes).map((name) => [name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, mode] of Object.entries(modes)) {
      const base = await cpuOf(mode.baseline)
      const used = await cpuOf(mode.withRedis)
      perCall[name].push((used - base) / mode.calls)
    }
  }
  const sent = await redis.client.xLen('routemeter-roundtrip')
  if (sent === 0) throw new Error('no XADD reached the redis-server')
  console.log(`node ${process.version}; ${ROUNDS} rounds; sparse: one XADD every ${GAP_MS} ms`)
  console.log('| way of sending | CPU µs per XADD (wake-up: per wake), median [min…max] of rounds |')
  console.log('|---|--:|')
  const f = (x) => x.toFixed(1)
  for (const [name, values] of Object.entries(perCall)) {
    console.log(`| ${name} | ${f(median(values))} [${f(Math.min(...values))}…${f(Math.max(...values))}] |`)
  }
} finally {
  await client.quit()
  await redis.close()
}
