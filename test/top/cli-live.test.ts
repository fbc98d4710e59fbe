/**
 * `routemeter top` live, end to end: the command (src/cli/top.ts) in a tmux terminal, reading a private
 * redis-server through the reader and window, drawn by the screen. The screen's own behaviour (keys, resize,
 * restore) is tested in screen-tty.test.ts with a made-up Snapshot; this checks the parts joined: routes from
 * the stream appear with their rates, a new entry shows up live, `s` re-sorts, `q` exits 0.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { createClient, type RedisClientType } from 'redis'
import type { MetricRecord } from '../../src/wire/record.js'
import { encodeBatch } from '../../src/wire/stream-encoding.js'
import { formatRate } from '../../src/top/format.js'
import { redisSuite } from '../support/redis-server.js'
import { servicesAvailable } from '../support/services.js'
import { until } from '../support/eventually.js'

const suite = redisSuite('routemeter top, live in a terminal', { file: 'test/top/cli-live.test.ts' })
const { test, redis, cleanup } = suite
const it = suite.available && servicesAvailable('test/top/cli-live.test.ts (routemeter top in tmux)', [{ binary: 'tmux', debian: 'tmux' }])
  ? test
  : test.skip
const ROOT = join(__dirname, '..', '..')

async function write(
  client: RedisClientType, stream: string, route: string, n: number, time: number, status = 200, id = '*',
): Promise<void> {
  const records: MetricRecord[] = Array.from({ length: n }, () => ({
    kind: 'request', prefix: '', route, method: 'GET', status, aborted: false, dimensions: {},
    counters: { Failure: status >= 500 ? 1 : 0, ClientError: 0, Aborted: 0 }, timers: { RequestTime: time }, timestamp: Date.now(),
  }))
  const [e] = encodeBatch(records).entries
  await client.xAdd(stream, id, { v: e.v, n: String(e.n), p: e.p, s: 'web-1:1' })
}

it('shows the stream\'s routes and their rates, follows new entries, re-sorts on s and exits 0 on q', async () => {
  const client: RedisClientType = createClient({ url: redis.url })
  client.on('error', () => {})
  await client.connect()
  cleanup(() => client.destroy())
  const stream = 'top-live'
  // An entry from an hour ago: the stream is older than the window, whose rates are then over its complete seconds.
  await write(client, stream, 'old', 1, 1, 200, `${Date.now() - 3_600_000}-0`)
  await write(client, stream, 'fast', 100, 1)
  await write(client, stream, 'slow', 20, 800, 503)

  const dir = mkdtempSync(join(tmpdir(), 'routemeter-top-live-'))
  const socket = join(dir, 'tmux.sock')
  const config = join(dir, 'tmux.conf')
  writeFileSync(config, 'set -g status off\n')
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-S', socket, '-f', config, ...args], { encoding: 'utf8' })
  // Without uvu's FORCE_COLOR, which the tmux server inherits: beside NO_COLOR, Node 22 warns into the pane.
  const command = `env -u FORCE_COLOR NO_COLOR=1 '${process.execPath}' --import tsx src/cli/main.ts top --redis '${redis.url}' ` +
    `--stream ${stream} --window 30s; echo "exited $?"; exec sleep 600`
  tmux('new-session', '-d', '-s', 'top', '-x', '120', '-y', '20', '-c', ROOT, command)
  cleanup(() => {
    try { tmux('kill-server') } catch { /* already gone */ }
    rmSync(dir, { recursive: true, force: true })
  })
  const screen = (): string[] => tmux('capture-pane', '-p', '-t', 'top').split('\n')
  const row = (route: string): string[] | undefined => screen().find((line) => line.startsWith(`${route} `))?.trim().split(/\s+/)
  const routes = (): string[] => screen().filter((line) => /^(fast|slow|late) /.test(line)).map((line) => line.split(' ')[0])

  // 100 and 20 requests over the window's 29 complete seconds, once their second is complete; slow failed every time.
  const [fast, slow, late] = [100, 20, 50].map((n) => formatRate(n / 29))
  await until(() => row('fast')?.[2] === fast && row('slow')?.[2] === slow, 'both routes on the screen with their rates', 10_000, 25)
  assert.match(screen()[0], new RegExp(`^routemeter top · stream ${stream} · up · window 30s`))
  assert.equal(row('fast')?.slice(0, 2), ['fast', 'GET'])
  assert.is(row('slow')?.[7], '100.0')
  assert.equal(routes(), ['fast', 'slow'], 'by req/s')

  await write(client, stream, 'late', 50, 5)
  await until(() => row('late')?.[2] === late, 'the new entry on the screen', 10_000, 25)
  tmux('send-keys', '-t', 'top', 's')
  await until(() => routes().join() === 'slow,late,fast', 'the rows in p99 order', 10_000, 25)
  tmux('send-keys', '-t', 'top', 'q')
  await until(() => screen().includes('exited 0'), 'the command to exit 0', 10_000, 25)
})

test.run()
