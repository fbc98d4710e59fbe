#!/usr/bin/env node
// How many callbacks Node dispatches per request of each bench route, by kind: what the attributed clock's
// switch hook is called for while it is on. Every timer, immediate, nextTick and native callback (the HTTP
// parser's, a socket's) is one async_hooks `before`; every promise reaction one V8 promise hook call. The
// hook's price on a route is these counts times what one call costs there (bench/README.md, "Where json's
// cost goes on Node 24").
//
//   node bench/dispatches.mjs [--routes tiny,json,await20] [--requests 4000] [--connections 16]
//
// The bench's own app on bare node:http, no library: the counts are Node's, for the app. The load comes from a
// child process (this script again, with --client), so its callbacks are not counted; a first pass of the same
// size warms the server up uncounted. Checks: every request answered 200, and each reached a handler.
import { createHook } from 'node:async_hooks'
import { execFile } from 'node:child_process'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { promiseHooks } from 'node:v8'
import { app, ROUTES, served } from './app.mjs'
import { pathFactory } from './paths.mjs'

const { values: args } = parseArgs({
  options: {
    routes: { type: 'string', default: 'tiny,json,await20' }, requests: { type: 'string', default: '4000' },
    connections: { type: 'string', default: '16' }, client: { type: 'string' },
  },
})
const REQUESTS = Number(args.requests)
const CONNECTIONS = Number(args.connections)

if (args.client !== undefined) await client(Number(args.client), args.routes)
else await main()

/** The load: REQUESTS requests to `route` over CONNECTIONS keep-alive connections; exits 1 on any non-200. */
async function client(port, route) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const nextPath = pathFactory(route)
  let sent = 0
  const get = () => new Promise((resolve, reject) => {
    http.get({ port, host: '127.0.0.1', path: nextPath(), agent }, (res) => {
      res.resume()
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))))
    }).on('error', reject)
  })
  const worker = async () => { while (sent < REQUESTS) { sent++; await get() } }
  await Promise.all(Array.from({ length: CONNECTIONS }, worker))
  agent.destroy()
}

async function main() {
  const run = promisify(execFile)
  const self = fileURLToPath(import.meta.url)
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
  const load = (route) => run(process.execPath, [self, '--client', String(port), '--routes', route,
    '--requests', String(REQUESTS), '--connections', String(CONNECTIONS)])

  console.log(`node ${process.version}; ${REQUESTS} requests a route over ${CONNECTIONS} connections; callbacks per request`)
  const rows = []
  for (const route of args.routes.split(',')) {
    if (!(route in ROUTES)) throw new TypeError(`unknown route ${route}; routes: ${Object.keys(ROUTES).join(', ')}`)
    await load(route)
    const before = served.count
    counts = {}
    await load(route)
    const seen = counts
    counts = null
    if (served.count - before !== REQUESTS) throw new Error(`${route}: ${served.count - before} of ${REQUESTS} requests reached a handler`)
    rows.push([route, seen])
  }
  server.close()

  // Kinds under 0.005 a request on every route are the load's child process and the first connections.
  const kinds = [...new Set(rows.flatMap(([, seen]) => Object.keys(seen)))].sort()
    .filter((kind) => rows.some(([, seen]) => (seen[kind] ?? 0) / REQUESTS >= 0.005))
  console.log(`| route | async_hooks \`before\`, all | ${kinds.join(' | ')} |`)
  console.log(`|---|--:|${kinds.map(() => '--:').join('|')}|`)
  for (const [route, seen] of rows) {
    const perRequest = (kind) => (seen[kind] ?? 0) / REQUESTS
    const befores = Object.keys(seen).filter((k) => k !== 'promise reaction').reduce((sum, k) => sum + perRequest(k), 0)
    console.log(`| ${route} | ${befores.toFixed(2)} | ${kinds.map((k) => perRequest(k).toFixed(2)).join(' | ')} |`)
  }
}
