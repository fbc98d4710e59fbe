#!/usr/bin/env node
// How many callbacks Node dispatches per request of each bench route, by kind: what the attributed clock's
// switch hook is called for while it is on. Every timer, immediate, nextTick and native callback (the HTTP
// parser's, a socket's) is one async_hooks `before`; every promise reaction one V8 promise hook call. The
// hook's price on a route is these counts times what one call costs there (bench/README.md, "Where json's
// cost goes on Node 24").
//
//   node bench/dispatches.mjs [--routes tiny,json,await20] [--window 2] [--connections 16]
//
// The bench's own app on bare node:http, no library: the counts are Node's, for the app. The load is the bench's
// load generator (load.mjs, a child process, so its callbacks are not counted): warmed up for a second, paused,
// then resumed for a window of `--window` seconds and paused again, so every request counted starts and ends
// inside it. Counting stops in the IPC callback that says the load has paused, before anything of this script
// runs. Checks: the load saw no error and no non-2xx answer, and requests reached a handler.
import { createHook } from 'node:async_hooks'
import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { promiseHooks } from 'node:v8'
import { ROUTES, app, served } from './app.mjs'
import { ask } from './lib/child.mjs'
import { spawnLoad, startLoad } from './lib/load-run.mjs'

const { values: args } = parseArgs({
  options: {
    routes: { type: 'string', default: 'tiny,json,await20' }, window: { type: 'string', default: '2' },
    connections: { type: 'string', default: '16' },
  },
})
const WINDOW_MS = Number(args.window) * 1000
const CONNECTIONS = Number(args.connections)
const WARM_UP_MS = 1000

await main()

async function main() {
  const types = new Map()
  let counts = null
  // `trackPromises: false` (Node ≥ 24.14) keeps promises out of this hook, as the clock's own hook does; on older
  // Node it sees them too, and they are left out of its counts here: the V8 promise hook counts the reactions.
  createHook({
    init(id, type) { types.set(id, type) },
    before(id) {
      if (counts === null) return
      const type = types.get(id) ?? 'unknown'
      if (type !== 'PROMISE') counts[type] = (counts[type] ?? 0) + 1
    },
    destroy(id) { types.delete(id) },
    trackPromises: false,
  }).enable()
  promiseHooks.onBefore(() => { if (counts !== null) counts['promise reaction'] = (counts['promise reaction'] ?? 0) + 1 })

  const server = http.createServer(app)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = server.address().port
  const load = await spawnLoad()

  /** Counts the callbacks of one window of load; returns them with the requests served in it. */
  function countedWindow() {
    return new Promise((resolve) => {
      const before = served.count
      const seen = {}
      // Registered before anything else waits for 'paused', so no callback of this script's is counted.
      const onPaused = (m) => {
        if (m.type !== 'paused') return
        load.off('message', onPaused)
        counts = null
        resolve({ seen, requests: served.count - before })
      }
      load.on('message', onPaused)
      counts = seen
      load.send({ type: 'resume' })
      setTimeout(() => load.send({ type: 'pause' }), WINDOW_MS)
    })
  }

  console.log(`node ${process.version}; ${args.window} s of load a route over ${CONNECTIONS} connections; callbacks per request`)
  const rows = []
  for (const route of args.routes.split(',')) {
    if (!(route in ROUTES)) throw new TypeError(`unknown route ${route}; routes: ${Object.keys(ROUTES).join(', ')}`)
    const run = await startLoad(load, { port, route, connections: CONNECTIONS })
    await sleep(WARM_UP_MS)
    await ask(load, { type: 'pause' }, 'paused', 10_000, 'load')
    const { seen, requests } = await countedWindow()
    await run.finish()
    if (requests === 0) throw new Error(`${route}: no request reached a handler in the window`)
    rows.push([route, seen, requests])
  }
  server.close()
  load.disconnect()

  // Kinds under 0.005 a request on every route are this script's: its timer and the load's IPC messages.
  const kinds = [...new Set(rows.flatMap(([, seen]) => Object.keys(seen)))].sort()
    .filter((kind) => rows.some(([, seen, requests]) => (seen[kind] ?? 0) / requests >= 0.005))
  console.log(`| route | requests | async_hooks \`before\`, all | ${kinds.join(' | ')} |`)
  console.log(`|---|--:|--:|${kinds.map(() => '--:').join('|')}|`)
  for (const [route, seen, requests] of rows) {
    const perRequest = (kind) => (seen[kind] ?? 0) / requests
    const befores = Object.keys(seen).filter((k) => k !== 'promise reaction').reduce((sum, k) => sum + perRequest(k), 0)
    console.log(`| ${route} | ${requests} | ${befores.toFixed(2)} | ${kinds.map((k) => perRequest(k).toFixed(2)).join(' | ')} |`)
  }
}
