// One contender's server, run in its own process by run.mjs:  node bench/server.mjs <name> '<json options>'
//
// The server measures itself. Between a `start` and a `stop` message it reports its own process CPU
// (process.cpuUsage(), user + system, all threads) and the number of requests its handlers served, so
// CPU per request is this process's CPU divided by the requests it answered. Nothing else runs in it.
import fs from 'node:fs'
import http from 'node:http'
import { CONTENDERS } from './contenders.mjs'
import { served } from './app.mjs'
import { countClockCalls } from './lib/clock-calls.mjs'

const [name, json = '{}'] = process.argv.slice(2)
const spec = CONTENDERS.find((c) => c.name === name)
if (!spec) throw new Error(`unknown contender ${name}`)

// paired.mjs --count: the clock reads of the contender's code, counted from before it loads.
const clockCalls = process.env.ROUTEMETER_BENCH_COUNT === '1' ? countClockCalls(fs) : null
const quiet = clockCalls ? clockCalls.quiet : (fn) => fn()
const { create } = await import(`./contenders/${spec.module}`)
const contender = await create({ ...spec.options, ...JSON.parse(json) })
const server = http.createServer(contender.listener)
server.keepAliveTimeout = 30_000

let window = null
// Present only in a build from lib/flush-phases.mjs (flush-cost.mjs): what the flushes took, summed.
const flushPhases = () => globalThis.__routemeterFlushPhases === undefined ? undefined : { ...globalThis.__routemeterFlushPhases }
/** A window's share of running totals (the clock reads, by kind and by caller; the flush phases); undefined when not kept. */
const since = (now, then) => now && Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (then?.[k] ?? 0)]))
// The main thread's share (Node ≥ 23.9; NaN before): tells CPU spent by JavaScript from GC and other helper threads.
const threadCpu = typeof process.threadCpuUsage === 'function'
  ? () => { process.cpuUsage(); const u = process.threadCpuUsage(); return u.user + u.system }
  : () => NaN

process.on('message', async (msg) => {
  try {
    switch (msg.type) {
      case 'start':
        window = quiet(() => ({
          cpu: process.cpuUsage(), thread: threadCpu(), t: performance.now(), served: served.count, elu: performance.eventLoopUtilization(),
          calls: clockCalls?.read(), callers: clockCalls?.readByCaller(), flush: flushPhases(),
        }))
        return process.send({ type: 'started' })
      case 'stop': {
        const stopped = quiet(() => {
          const cpu = process.cpuUsage(window.cpu)
          return {
            type: 'stopped', cpuUs: cpu.user + cpu.system, threadUs: threadCpu() - window.thread, requests: served.count - window.served,
            ms: performance.now() - window.t, elu: performance.eventLoopUtilization(window.elu).utilization,
            rssMb: process.memoryUsage.rss() / 2 ** 20,
            calls: since(clockCalls?.read(), window.calls), callers: since(clockCalls?.readByCaller(), window.callers),
            flush: since(flushPhases(), window.flush),
          }
        })
        window = null
        return process.send(stopped)
      }
      case 'verify': {
        const result = await contender.verify(served.count)
        return process.send({ type: 'verified', served: served.count, ...result })
      }
      case 'reset':
        contender.reset?.()
        return process.send({ type: 'reset' })
      case 'exit':
        server.closeAllConnections()
        server.close()
        process.disconnect() // and exit, below
    }
  } catch (err) {
    process.send({ type: 'error', message: err.stack || String(err) })
  }
})

// A parent that dies without sending `exit` (a SIGKILL, a crash) closes the IPC channel: go with it. An orphaned
// server once kept loading the bench's core for 24 minutes, and kept a test's output pipe open, so the test
// never ended.
process.on('disconnect', () => process.exit(0))

server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }))
