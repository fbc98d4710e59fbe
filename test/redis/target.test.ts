/**
 * Redis URLs for one server, Cluster and Sentinel; and the whole channel (redisSink → Redis → agent)
 * through a real one-node Cluster and a real Sentinel.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { resolveRedisTarget } from '../../src/redis/target.js'
import { OptionError } from '../../src/util/option-check.js'
import { redisSink } from '../../src/sinks/redis.js'
import { startAgent } from '../../src/agent/agent.js'
import type { AgentEntry, Publisher } from '../../src/agent/publisher.js'
import { startRedis, startSentinel } from '../support/redis-server.js'
import { REDIS, servicesAvailable, waitFor } from '../support/services.js'
import { flushSink } from '../../src/pipeline/registry.js'

const test = suite('Redis targets')
const available = servicesAvailable('test/redis/target.test.ts (Cluster and Sentinel)', [REDIS])
const it = available ? test : test.skip

test('a plain URL is one server; the password is redacted', () => {
  const t = resolveRedisTarget('redis://app:s%40cret@cache:6380/2', 'url')
  assert.is(t.kind, 'standalone')
  assert.is(t.safe, 'redis://app:***@cache:6380/2')
  assert.is(t.redact('auth s@cret failed'), 'auth *** failed')
  // What the sink's own socket connects with: decoded credentials, the database from the path.
  assert.equal(t.server, { host: 'cache', port: 6380, tls: false, username: 'app', password: 's@cret', db: 2 })
  assert.equal(resolveRedisTarget('rediss://[::1]', 'url').server, { host: '::1', port: 6379, tls: true, db: 0 })
  assert.is(resolveRedisTarget('redis+cluster://a:1,b:2', 'url').server, undefined)
})

test('redis+cluster:// lists nodes; redis+sentinel:// lists sentinels and names the master', () => {
  const c = resolveRedisTarget('redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002', 'url')
  assert.is(c.kind, 'cluster')
  assert.is(c.safe, 'redis+cluster://:***@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002')
  const s = resolveRedisTarget('rediss+sentinel://user:pw@s1,s2:26380/my%20master', 'url')
  assert.is(s.kind, 'sentinel')
  assert.is(s.safe, 'rediss+sentinel://user:***@s1,s2:26380/my%20master')
  assert.is(s.redact('pw'), '***')
})

test('unusable URLs throw an OptionError naming the option and its owner, never echoing the password', () => {
  const bad = [
    'redis+sentinel://:hunter2@s1:26379', 'redis+cluster://:hunter2@h1:99999', 'redis+cluster://:hunter2@h1:1,,h2:2', 'http://:hunter2@x',
    'redis://:hunter2@[x', 'redis+cluster://:hunter2%zz@h1:1', 'redis+sentinel://:hunter2@s1/%zz', new URL('redis://:hunter2@h'), 42,
    'redis://:hunter2@h/abc', 'redis://:hunter2@h/1/2', 'redis://:hunter2%zz@h',
  ]
  for (const url of bad) {
    try { resolveRedisTarget(url, 'redis', 'startAgent'); assert.unreachable(String(url)) } catch (e) {
      assert.instance(e, OptionError, String(url))
      assert.instance(e, TypeError, String(url))
      assert.is((e as OptionError).option, 'redis')
      assert.is((e as OptionError).owner, 'startAgent')
      assert.ok((e as Error).message.startsWith('routemeter: startAgent option "redis" '), (e as Error).message)
      assert.not.ok((e as Error).message.includes('hunter2'), (e as Error).message)
    }
  }
})

test('a password holding an unescaped @ is read up to the last @ of the authority, for a host list as for one server', () => {
  const cluster = resolveRedisTarget('redis+cluster://:p4@ss@a:1,b:2', 'url')
  assert.is(cluster.kind, 'cluster')
  assert.is(cluster.safe, 'redis+cluster://:***@a:1,b:2')
  const sentinel = resolveRedisTarget('redis+sentinel://app:p4@ss@s1:26379,s2/mymaster', 'url')
  assert.is(sentinel.safe, 'redis+sentinel://app:***@s1:26379,s2/mymaster')
  const single = resolveRedisTarget('redis://:p4@ss@cache:6379/0', 'url')
  assert.is(single.safe, 'redis://:***@cache:6379/0')
  for (const t of [cluster, sentinel, single]) {
    assert.is(t.redact('AUTH p4@ss failed; url :p4%40ss@; json "p4@ss"'), 'AUTH *** failed; url :***@; json "***"')
  }
})

test('redact removes every spelling of the password: raw, percent-encoded (either case), form-encoded, JSON-escaped', () => {
  const password = 'p@ss w"ö/'
  const encoded = encodeURIComponent(password)
  const spellings = [
    password, encoded, encoded.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
    new URLSearchParams({ s: password }).toString().slice(2), JSON.stringify(password).slice(1, -1),
  ]
  const text = spellings.map((s, i) => `${i}:${s}`).join(' ')
  const masked = spellings.map((_, i) => `${i}:***`).join(' ')
  const urls: Array<[string, string]> = [
    [`redis://user:${encoded}@cache:6379`, 'redis://user:***@cache:6379'],
    [`rediss+cluster://user:${encoded}@a:1,b:2`, 'rediss+cluster://user:***@a:1,b:2'],
    [`redis+sentinel://user:${encoded}@s1,s2/m`, 'redis+sentinel://user:***@s1,s2/m'],
  ]
  for (const [url, safe] of urls) {
    const t = resolveRedisTarget(url, 'url')
    assert.is(t.redact(text), masked, url)
    assert.is(t.safe, safe)
  }
})

test('without a URL: ROUTEMETER_REDIS_URL when set and not empty, else redis://127.0.0.1:6379', () => {
  const saved = process.env.ROUTEMETER_REDIS_URL
  try {
    process.env.ROUTEMETER_REDIS_URL = 'redis+cluster://:env-secret@e1:7000,e2:7001'
    assert.is(resolveRedisTarget(undefined, 'url').safe, 'redis+cluster://:***@e1:7000,e2:7001')
    assert.is(resolveRedisTarget(undefined, 'url').redact('env-secret'), '***')
    process.env.ROUTEMETER_REDIS_URL = ''
    assert.is(resolveRedisTarget(undefined, 'url').safe, 'redis://127.0.0.1:6379')
  } finally {
    if (saved === undefined) delete process.env.ROUTEMETER_REDIS_URL
    else process.env.ROUTEMETER_REDIS_URL = saved
  }
})

function records(n: number, from: number): MetricRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: 'request' as const, prefix: '', route: 'r', method: 'GET', status: 200, aborted: false, dimensions: {},
    counters: {}, timers: { RequestTime: 1 }, timestamp: from + i,
  }))
}

async function roundTrip(url: string): Promise<void> {
  const seen = new Set<number>()
  const publisher: Publisher = {
    name: 'rec',
    async publish(entries: readonly AgentEntry[]) {
      for (const e of entries) for (let i = 0; i < e.batch.count; i++) seen.add(e.batch.baseTimestamp + i)
    },
    async close() {},
  }
  const errors: Error[] = []
  const sink = redisSink({ url, stream: '{rm}stream', onError: (e) => errors.push(e) })
  const agent = startAgent({
    redis: url, stream: '{rm}stream', consumer: 'c', blockMs: 100, publishers: [publisher], onError: (e) => errors.push(e),
  })
  try {
    await agent.ready
    for (let i = 0; i < 20; i++) await sink.send(records(10, i * 10))
    await flushSink(sink)
    assert.is(sink.stats().delivered, 200, errors.map((e) => e.message).join('\n'))
    await waitFor('agent', () => agent.stats().requests === 200, 10_000)
    assert.is(seen.size, 200)
  } finally {
    await sink.close()
    await agent.stop()
  }
}

it('the channel works through a real Redis Cluster (redis+cluster://)', async () => {
  const node = await startRedis({ cluster: true, password: 'pw' })
  try { await roundTrip(`redis+cluster://:pw@127.0.0.1:${node.port}`) } finally { await node.stop({ keepData: false }) }
})

it('the channel works through a real Sentinel (redis+sentinel://…/master)', async () => {
  const master = await startRedis({ password: 'pw' })
  const sentinel = await startSentinel(master.port, 'mymaster', 'pw')
  try { await roundTrip(`redis+sentinel://:pw@127.0.0.1:${sentinel.port}/mymaster`) } finally {
    await sentinel.stop()
    await master.stop({ keepData: false })
  }
})

test.run()
