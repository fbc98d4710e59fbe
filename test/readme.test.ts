/**
 * The README's quick starts run as written: each snippet is cut out of README.md, run in a child process
 * (its `listen(3000)` moved to a free port), sent a request, and its metrics are looked for where the
 * README says they go: StatsD for the first, the default Redis stream for Koa, Express and Fastify.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startRedis, command, type RedisServer } from './support/redis-server.js'
import { REDIS, servicesAvailable, trackChild, waitFor } from './support/services.js'
import { udpCollector } from './support/udp.js'

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
    await waitFor(`the snippet to listen (stderr: ${stderr})`, () => /listening \d+/.test(stdout) || child.exitCode !== null, 20_000)
    const port = Number(/listening (\d+)/.exec(stdout)?.[1])
    assert.ok(port > 0, `the snippet listens (exit ${child.exitCode}): ${stderr}`)
    await use(port)
    return stderr
  } finally {
    child.kill('SIGKILL')
    untrack()
  }
}

const Readme = suite('README quick starts')
let redis: RedisServer | undefined
const enabled = servicesAvailable('test/readme.test.ts (README quick starts)', [REDIS])

Readme.before(async () => { if (enabled) redis = await startRedis() })
Readme.after(async () => {
  await redis?.stop({ keepData: false })
  rmSync(scratch, { recursive: true, force: true })
})

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
    })
  } finally {
    udp.close()
  }
})

for (const [index, framework] of [[1, 'Koa'], [2, 'Express'], [3, 'Fastify']] as const) {
  Readme(`${framework}: the response is served, the first flush says where metrics go, and they reach the default Redis stream`, async () => {
    if (!enabled) return
    // These snippets all write to the default stream "routemeter": emptied first, so what is there is this one's.
    await command(redis!.port, undefined, 'DEL routemeter')
    const stderr = await runSnippet(snippets[index]!, { ROUTEMETER_REDIS_URL: redis!.url, ROUTEMETER_STATSD: '' }, async (port) => {
      const res = await fetch(`http://127.0.0.1:${port}/users/42`)
      assert.equal(await res.json(), { id: '42' })
      const length = async (): Promise<number> => Number(/:(\d+)/.exec(await command(redis!.port, undefined, 'XLEN routemeter'))?.[1] ?? 0)
      await waitFor('an entry in the stream "routemeter"', async () => await length() > 0)
      const entries = await command(redis!.port, undefined, 'XRANGE routemeter - +')
      assert.ok(entries.includes('users.id'), `the entry names the route users.id: ${entries}`)
    })
    assert.match(stderr, new RegExp(`routemeter: sending metrics to Redis at ${redis!.url.replace(/[.]/g, '\\.')}, stream "routemeter"`))
  })
}

Readme.run()
