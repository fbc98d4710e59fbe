/**
 * The README's quick starts run as written: each snippet is cut out of README.md, run in a child process
 * (its `listen(3000)` moved to a free port), sent a request, and its metrics are looked for where the
 * README says they go: StatsD for the first, the default Redis stream for Koa, Express and Fastify.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { createClient } from 'redis'
import { redisSuite } from './support/redis-server.js'
import { trackChild } from './support/services.js'
import { until } from './support/eventually.js'
import { udpCollector } from './support/udp.js'
import { decoded } from './support/entries.js'

const root = join(__dirname, '..')
const scratch = join(root, '.scratch', `readme-${process.pid}`)
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('**Your own metrics**'))
const snippets = [...quickStart.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!)

/** Runs a snippet until `done` resolves; returns its stderr and the port it listens on. */
async function runSnippet(code: string, env: Record<string, string>, use: (port: number) => Promise<void>): Promise<string> {
  mkdirSync(scratch, { recursive: true })
  const file = join(scratch, `snippet-${snippets.indexOf(code)}.${/^import /m.test(code) ? 'mjs' : 'cjs'}`)
  writeFileSync(file, code)
  const child = spawn(process.execPath, ['--require', join(__dirname, 'support', 'listen-on-free-port.cjs'), file], {
    cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  })
  const untrack = trackChild(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  try {
    await until(() => /listening \d+/.test(stdout) || child.exitCode !== null, 'the snippet to listen', 20_000)
    const listening = /listening (\d+)/.exec(stdout)
    if (listening === null) throw new Error(`the snippet exited (${child.exitCode}) before it listened: ${stderr}`)
    await use(Number(listening[1]))
    return stderr
  } finally {
    child.kill('SIGKILL')
    untrack()
  }
}

// The node:http snippet needs no Redis (it sends to StatsD): it runs as `Readme`, the others as `it`.
const { test: Readme, it, redis } = redisSuite('README quick starts', { file: 'test/readme.test.ts' })
Readme.after(() => { rmSync(scratch, { recursive: true, force: true }) })

/** The request series (prefix, route, method, status, requests) in the stream `routemeter` so far. */
async function requestsInStream(): Promise<Array<[string, string, string, number | undefined, number]>> {
  const client = createClient({ url: redis.url })
  await client.connect()
  try {
    const entries = await client.xRange('routemeter', '-', '+') ?? []
    return entries.flatMap(({ id, message }) => decoded({ id, v: message.v!, n: Number(message.n), p: message.p! }).series())
      .filter((s) => s.group.kind === 'request' && s.name === 'RequestTime')
      .map((s) => [s.group.prefix, s.group.route, s.group.method, s.group.status, s.count])
  } finally { await client.close() }
}

Readme('the README has the four quick starts: node:http, Koa, Express, Fastify', () => {
  assert.is(snippets.length, 4)
  assert.match(snippets[0]!, /statsdSink/)
  assert.match(snippets[1]!, /koaMetrics/)
  assert.match(snippets[2]!, /connectMetrics/)
  assert.match(snippets[3]!, /fastifyMetrics/)
})

Readme('node:http: the response is served and its metrics reach StatsD', async () => {
  const udp = await udpCollector()
  try {
    await runSnippet(snippets[0]!, { ROUTEMETER_STATSD: `127.0.0.1:${udp.port}` }, async (port) => {
      assert.is(await (await fetch(`http://127.0.0.1:${port}/users/42`)).text(), 'ok')
      await udp.waitFor((lines) => lines.some((l) => l.startsWith('shop.users.id.RequestTime:')), 10_000)
      assert.match(udp.lines.find((l) => l.startsWith('shop.users.id.RequestTime:'))!, /^shop\.users\.id\.RequestTime:\d+(\.\d+)?\|ms$/)
    })
  } finally {
    udp.close()
  }
})

// Koa and Fastify set the prefix `shop`, Express none.
for (const [index, framework, prefix] of [[1, 'Koa', 'shop'], [2, 'Express', ''], [3, 'Fastify', 'shop']] as const) {
  it(`${framework}: the response is served, the first flush says where metrics go, and they reach the default Redis stream`, async () => {
    // These snippets all write to the default stream "routemeter": emptied first, so what is there is this one's.
    const client = createClient({ url: redis.url })
    await client.connect()
    await client.del('routemeter')
    await client.close()
    const stderr = await runSnippet(snippets[index]!, { ROUTEMETER_REDIS_URL: redis.url, ROUTEMETER_STATSD: '' }, async (port) => {
      const res = await fetch(`http://127.0.0.1:${port}/users/42`)
      assert.equal(await res.json(), { id: '42' })
      await until(async () => (await requestsInStream()).length > 0, 'the request in the stream "routemeter"', 10_000)
      assert.equal(await requestsInStream(), [[prefix, 'users.id', 'GET', 200, 1]])
    })
    assert.match(stderr, new RegExp(`routemeter: sending metrics to Redis at ${redis.url.replace(/[.]/g, '\\.')}, stream "routemeter"`))
  })
}

Readme.run()
