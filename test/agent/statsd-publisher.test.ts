import dgram from 'node:dgram'
import { once } from 'node:events'
import net from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { statsdPublisher } from '../../src/agent/statsd-publisher.js'
import { statsdTcp } from '../../src/agent/statsd-tcp.js'
import { PublishError, type AgentEntry } from '../../src/agent/publisher.js'
import { OptionError } from '../../src/util/option-check.js'
import { dropTotals } from '../../src/util/drops.js'
import { bucketIndex } from '../../src/wire/sketch.js'
import { entryOf as entry } from '../support/entries.js'
import { freePort, sleep, waitFor } from '../support/services.js'
import { parseLine, udpCollector } from '../support/udp.js'
import { freeUdpPort } from '../support/statsd-daemon.js'
import { runNode } from '../support/run-node.js'

function record(over: Partial<MetricRecord> = {}): MetricRecord {
  return {
    kind: 'request', prefix: '', route: 'users.id', method: 'GET', status: 200, aborted: false,
    dimensions: { service: 'shop' }, counters: { Failure: 0 }, timers: { RequestTime: 2 }, timestamp: 1763798400000, ...over,
  }
}

test('timers go value by value, counters summed per entry, names dotted and cleaned', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port, prefix: 'web' })
  await pub.publish([entry('1-0', [
    record({ timers: { RequestTime: 2 } }), record({ timers: { RequestTime: 5 }, counters: { Failure: 1 } }),
    record({ route: 'a:b|c@d#e', counters: { Failure: 1 } }),
    record({ kind: 'process', route: '', method: '', counters: { 'jobs done': 3 }, timers: {} }),
  ])])
  await pub.close()
  await udp.waitFor((lines) => lines.length === 6)
  udp.close()
  // Each timer value a line of its own; the counters of a series summed (two Failure of users.id, 0 + 1).
  assert.equal([...udp.lines].sort(), [
    'web.a_b_c_d_e.Failure:1|c', 'web.a_b_c_d_e.RequestTime:2|ms', 'web.jobs_done:3|c',
    'web.users.id.Failure:1|c', 'web.users.id.RequestTime:2|ms', 'web.users.id.RequestTime:5|ms',
  ])
})

test('tags: true sends method, status_class and dimensions as DogStatsD tags; statusCode: true adds status_code', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port, tags: true })
  const exact = statsdPublisher({ port: udp.port, tags: true, statusCode: true, prefix: 'exact' })
  const batch = [
    record(), record({ route: 'gone', status: 503 }),
    record({ route: 'left', status: 0, aborted: true, dimensions: { status_class: '2xx' } }),
  ]
  await pub.publish([entry('1-0', batch)])
  await exact.publish([entry('1-0', batch)])
  await pub.close()
  await exact.close()
  await udp.waitFor((lines) => lines.filter((l) => l.includes('.RequestTime:')).length === 6)
  udp.close()
  const tagsOf = (name: string) => udp.lines.map(parseLine).find((l) => l.name === name)!.tags.join(',')
  assert.is(tagsOf('users.id.RequestTime'), 'method:GET,status_class:2xx,service:shop')
  assert.is(tagsOf('gone.Failure'), 'method:GET,status_class:5xx,service:shop')
  assert.is(tagsOf('left.RequestTime'), 'method:GET,status_class:aborted', 'a dimension cannot set status_class')
  assert.is(tagsOf('exact.gone.RequestTime'), 'method:GET,status_class:5xx,status_code:503,service:shop')
  assert.is(tagsOf('exact.left.Failure'), 'method:GET,status_class:aborted,status_code:0')
})

test('the app\'s prefix comes after the publisher\'s, as statsdSink puts it after its own', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port, prefix: 'web' })
  const process = record({ kind: 'process', prefix: 'shop', route: '', method: '', counters: { jobs: 2 }, timers: {} })
  await pub.publish([entry('1-0', [record({ prefix: 'shop' }), process])])
  await pub.close()
  await udp.waitFor((lines) => lines.length >= 3)
  udp.close()
  assert.equal(udp.lines.sort(), ['web.shop.jobs:2|c', 'web.shop.users.id.Failure:0|c', 'web.shop.users.id.RequestTime:2|ms'])
})

test('an unresolvable host rejects publish as transient (the agent retries, data waits in Redis) and warns once per burst', async () => {
  const errors: Error[] = []
  const port = await freePort()
  const pub = statsdPublisher({ host: 'no-such-host.invalid', port, onError: (e) => errors.push(e) })
  for (let i = 0; i < 3; i++) {
    const error = await pub.publish([entry(`1-${i}`, [record()])]).then(() => undefined, (e: unknown) => e)
    assert.ok(error instanceof PublishError && !error.permanent, String(error))
  }
  await pub.close()
  // ENOTFOUND where a resolver answers, EAI_AGAIN where none is reachable.
  assert.is(errors.length, 1, errors.map((e) => e.message).join('\n'))
  const refused = `^routemeter statsd no-such-host\\.invalid:${port}: getaddrinfo (ENOTFOUND|EAI_AGAIN) no-such-host\\.invalid$`
  assert.match(errors[0]!.message, new RegExp(refused))
})

test('nothing listening on the port: publish rejects as transient; once a server listens, each line arrives once', async () => {
  const port = await freeUdpPort()
  const pub = statsdPublisher({ port })
  const error = await pub.publish([entry('1-0', [record()])]).then(() => undefined, (e: unknown) => e)
  assert.ok(error instanceof PublishError && !error.permanent, String(error))
  const server = dgram.createSocket('udp4')
  const lines: string[] = []
  server.on('message', (msg) => { if (msg.length > 0) lines.push(...msg.toString().split('\n')) })
  server.bind(port, '127.0.0.1')
  await once(server, 'listening')
  await pub.publish([entry('1-0', [record()])])
  await pub.close()
  // A marker sent after close(): on loopback, datagrams reach a socket in the order they were sent, so once the
  // marker is in, so is every line the publisher sent; a duplicate would be in too.
  const marker = dgram.createSocket('udp4')
  marker.send('end', port, '127.0.0.1')
  await waitFor('the marker', () => lines.includes('end'), 3000)
  marker.close()
  server.close()
  assert.equal(lines.sort(), ['end', 'users.id.Failure:0|c', 'users.id.RequestTime:2|ms'])
})

test('datagrams are paced: a burst, then at most linesPerMs lines per millisecond, none lost', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port, linesPerMs: 10, burstLines: 100 })
  const batch = Array.from({ length: 1000 }, (_, i) => record({ timers: { RequestTime: i }, counters: {} }))
  const arrivals: number[] = []
  const started = performance.now()
  const timer = setInterval(() => arrivals.push(udp.lines.length), 1)
  await pub.publish([entry('1-0', batch)])
  const elapsed = performance.now() - started
  clearInterval(timer)
  await udp.waitFor((lines) => lines.length === 1000)
  await pub.close()
  udp.close()
  // 900 lines past the burst at 10 per ms cannot take less than 90 ms, whatever the machine.
  assert.ok(elapsed >= 90 - 1, `${elapsed} ms`)
  const values = udp.lines.map(parseLine).map((l) => l.value)
  // Each value sent once (from a v=2 entry, within the sketch's 1.08 %; min and max exact).
  assert.is(values.length, 1000)
  assert.equal([Math.min(...values), Math.max(...values)], [0, 999])
})

test('close() during a paced publish stops the pacing timer: no send on the closed socket, and the publish rejects', async () => {
  const udp = await udpCollector()
  // Slow enough that close() finds most of the packets still queued (an agent stopping at its drain deadline).
  // ≈ 30 lines a datagram: one every 600 ms, so 300 lines take ≈ 6 s, past close()'s own 2 s wait.
  const pub = statsdPublisher({ port: udp.port, linesPerMs: 0.05, burstLines: 1 })
  const crashes: unknown[] = []
  const onCrash = (error: unknown): void => { crashes.push(error) }
  process.on('uncaughtException', onCrash)
  try {
    const batch = Array.from({ length: 300 }, (_, i) => record({ timers: { RequestTime: i }, counters: {} }))
    const publishing = pub.publish([entry('1-0', batch)])
    const outcome = publishing.then(() => 'resolved', (e: unknown) =>
      (e instanceof PublishError && !e.permanent ? 'transient' : String(e)))
    // The first datagram is out: the pacing timer holds the rest.
    await udp.waitFor((lines) => lines.length > 0)
    await pub.close()
    // The time is the subject: the next datagram was due within 600 ms of the socket closing, and a send on the
    // closed socket would have thrown by now.
    await sleep(1000)
    assert.equal(crashes.map(String), [])
    assert.is(await Promise.race([outcome, new Promise((r) => setTimeout(() => r('pending'), 500))]), 'transient')
  } finally {
    process.off('uncaughtException', onCrash)
    udp.close()
  }
})

test('an entry claiming more timer values than one entry may send is refused permanently, before any line leaves', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port, linesPerMs: 1e9, burstLines: 1e9 })
  // A v=2 entry states its counts: a few bytes can claim millions of values (here 2,000,001 of 2 ms).
  const hostile = entry('1-0', [record({ timers: { RequestTime: 2 } })])
  const timer = hostile.series().find((s) => s.type === 'timer')!
  timer.sketch!.positive.add(bucketIndex(2), 2_000_000)
  timer.sketch!.count += 2_000_000
  timer.count += 2_000_000
  const started = performance.now()
  const outcome = await pub.publish([entry('2-0', [record()]), hostile]).then(() => 'resolved', (e: unknown) => e)
  const elapsed = performance.now() - started
  await pub.close()
  udp.close()
  assert.ok(outcome instanceof PublishError && outcome.permanent, String(outcome))
  assert.match((outcome as Error).message, /2000001 timer values in entry 1-0/)
  assert.is(udp.lines.length, 0, 'nothing sent: the good entry goes again alone')
  assert.ok(elapsed < 1000, `${elapsed} ms`)
})

test('names that normalise to a standard metric, or carry its name with the wrong kind, are dropped and counted', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port })
  const before = dropTotals().name ?? 0
  await pub.publish([entry('1-0', [
    record({ counters: { Failure: 0, '.Failure': 1, 'Aborted..': 1 }, timers: { RequestTime: 2, 'RequestTime.': 5, Failure: 7 } }),
  ])])
  await pub.close()
  await udp.waitFor((lines) =>
    lines.some((l) => l.startsWith('users.id.RequestTime:')) && lines.some((l) => l.startsWith('users.id.Failure:')))
  udp.close()
  // What Graphite would file under users/id/Failure (empty levels collapse) must be the real counter alone.
  const lines = udp.lines.map(parseLine).map((l) => ({ ...l, name: l.name.replace(/\.{2,}/g, '.').replace(/\.$/, '') }))
  assert.equal(lines.filter((l) => l.name === 'users.id.Failure').map((l) => `${l.value}|${l.type}`), ['0|c'])
  assert.equal(lines.filter((l) => l.name === 'users.id.RequestTime').map((l) => `${l.value}|${l.type}`), ['2|ms'])
  assert.equal(lines.filter((l) => l.name === 'users.id.Aborted'), [])
  assert.is((dropTotals().name ?? 0) - before, 4)
})

test('a line with more tags than a datagram holds loses its last tags, counted; no datagram exceeds 1400 bytes', async () => {
  const udp = await udpCollector()
  const pub = statsdPublisher({ port: udp.port, tags: true })
  const dimensions: Record<string, string> = {}
  for (let i = 0; i < 32; i++) dimensions[`dimension${i}`] = String(i).padEnd(250, 'x')
  const before = dropTotals().size ?? 0
  await pub.publish([entry('1-0', [record({ dimensions }), record({ route: 'narrow', dimensions: {} })])])
  await pub.close()
  await udp.waitFor((lines) =>
    lines.some((l) => l.startsWith('users.id.RequestTime:')) && lines.some((l) => l.startsWith('narrow.Failure:')))
  udp.close()
  assert.ok(Math.max(...udp.sizes) <= 1400, `largest datagram ${Math.max(...udp.sizes)} bytes`)
  const timing = udp.lines.map(parseLine).find((l) => l.name === 'users.id.RequestTime')!
  assert.is(timing.value, 2)
  // Our two tags and five dimension tags of about 262 bytes fit with the name (1,367 bytes); a sixth would not.
  // Dimensions come out of an entry sorted by key: dimension0, dimension1, dimension10, …
  const kept = Object.keys(dimensions).sort().slice(0, 5).map((k) => `${k}:${dimensions[k]}`)
  assert.equal(timing.tags, ['method:GET', 'status_class:2xx', ...kept])
  // The wide group's two lines (RequestTime, Failure) were cut; narrow's were not.
  assert.is((dropTotals().size ?? 0) - before, 2)
})

interface TcpCollector {
  readonly port: number
  /** Every byte received, all connections in order of arrival. */
  data(): string
  /** The complete (newline-terminated) lines received. */
  lines(): string[]
  /** Connections accepted, and how many of them the client ended (FIN). */
  readonly connections: net.Socket[]
  ended: number
  waitFor(pred: () => boolean, what: string, ms?: number): Promise<void>
  close(): Promise<void>
}

/** A real TCP server on a loopback port (free, or `port`) collecting StatsD lines; `onConnection` may pause or destroy. */
async function tcpCollector(port = 0, onConnection?: (socket: net.Socket) => void): Promise<TcpCollector> {
  const chunks: string[] = []
  const state: TcpCollector = {
    port: 0,
    data: () => chunks.join(''),
    lines: () => state.data().split('\n').slice(0, -1),
    connections: [],
    ended: 0,
    waitFor: (pred, what, ms = 3000) => waitFor(what, pred, ms),
    close: async () => {
      for (const socket of state.connections) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
  const server = net.createServer((socket) => {
    state.connections.push(socket)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => chunks.push(chunk))
    socket.on('end', () => state.ended++)
    socket.on('error', () => {})
    onConnection?.(socket)
  })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  return Object.assign(state, { port: (server.address() as net.AddressInfo).port })
}

/** Each line with how often it came, for comparing what arrived regardless of order. */
function tally(lines: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1)
  return counts
}

/**
 * `copies` entries of 40,000 timing lines each (≈ 0.9 MB, so 20 copies are ≈ 4 times what loopback's kernel
 * buffers took from a reader that stopped reading, measured: 4 MB), and how many of them the publisher encoded so far.
 */
function bigPublish(copies: number): { entries: AgentEntry[], encoded: () => number, one: AgentEntry } {
  const one = entry('1-0', Array.from({ length: 20_000 }, (_, i) =>
    record({ route: 'big', counters: {}, timers: { RequestTime: i % 997, Db: i % 13 } })))
  let encoded = 0
  const entries = Array.from({ length: copies }, (_, i): AgentEntry => ({
    id: `1-${i}`,
    series: () => one.series(),
    // The publisher reads `batch` when it writes the entry's lines, and not before.
    get batch() {
      encoded++
      return one.batch
    },
  }))
  return { entries, encoded: () => encoded, one }
}

/** The lines one entry makes, as a TCP server receives them from a publish of it alone. */
async function linesOf(e: AgentEntry): Promise<string[]> {
  const tcp = await tcpCollector()
  const pub = statsdPublisher({ port: tcp.port, protocol: 'tcp' })
  await pub.publish([e])
  await pub.close()
  await tcp.waitFor(() => tcp.ended === 1, 'the client\'s FIN')
  await tcp.close()
  return tcp.lines()
}

test('over TCP the same lines arrive as over UDP, each newline-terminated; close() ends the connection', async () => {
  const batches = [
    [record(), record({ timers: { RequestTime: 5 }, counters: { Failure: 1 } }), record({ route: 'gone', status: 503 })],
    [record({ kind: 'process', route: '', method: '', counters: { 'jobs done': 3 }, timers: {} })],
  ]
  const entries = () => batches.map((batch, i) => entry(`1-${i}`, batch))
  const udp = await udpCollector()
  const tcp = await tcpCollector()
  const viaUdp = statsdPublisher({ port: udp.port, prefix: 'web', tags: true })
  const viaTcp = statsdPublisher({ port: tcp.port, prefix: 'web', tags: true, protocol: 'tcp' })
  await viaUdp.publish(entries())
  await viaTcp.publish(entries())
  await viaUdp.close()
  await viaTcp.close()
  try {
    // Six lines: four timings (one per value) and the counters summed per series.
    await udp.waitFor((lines) => lines.length === 6)
    await tcp.waitFor(() => tcp.ended === 1, 'the client\'s FIN')
    assert.ok(tcp.data().endsWith('\n'), JSON.stringify(tcp.data()))
    assert.not.ok(tcp.data().includes('\n\n'))
    assert.equal(tcp.lines().sort(), [...udp.lines].sort())
    assert.is(tcp.connections.length, 1, 'both publishes on one connection')
  } finally {
    udp.close()
    await tcp.close()
  }
})

test('over TCP with nothing listening, publish rejects as transient; once a server listens, the next publish delivers', async () => {
  const port = await freePort()
  const pub = statsdPublisher({ port, protocol: 'tcp' })
  const error = await pub.publish([entry('1-0', [record()])]).then(() => undefined, (e: unknown) => e)
  assert.ok(error instanceof PublishError && !error.permanent, String(error))
  assert.match((error as Error).message, /ECONNREFUSED/)
  const tcp = await tcpCollector(port)
  try {
    await pub.publish([entry('1-0', [record()])])
    await pub.close()
    await tcp.waitFor(() => tcp.ended === 1, 'the client\'s FIN')
    assert.equal(tcp.lines().sort(), ['users.id.Failure:0|c', 'users.id.RequestTime:2|ms'])
  } finally {
    await tcp.close()
  }
})

test('a server that closes each connection as it comes makes each publish reject as transient: nothing is acked unread', async () => {
  // Every line went into our kernel before the server's FIN came back, so each publish had resolved and its
  // entries were acked: 5 publishes, 0 bytes read, nothing said.
  const closer = await tcpCollector(0, (socket) => socket.destroy())
  const errors: string[] = []
  const pub = statsdPublisher({ port: closer.port, protocol: 'tcp', onError: (e) => errors.push(e.message) })
  try {
    for (let i = 0; i < 5; i++) {
      const error = await pub.publish([entry(`${i}-0`, [record()])]).then(() => undefined, (e: unknown) => e)
      assert.ok(error instanceof PublishError && !error.permanent, `publish ${i}: ${String(error)}`)
    }
    assert.is(closer.data(), '')
  } finally {
    await pub.close()
    await closer.close()
  }
})

test('a connection that fails after its publish resolved is reported at the next publish, which goes on a new one', async () => {
  // The server reads, then hangs up 100 ms later: after the publish resolved, when no publish waits to hear it.
  const tcp = await tcpCollector(0, (socket) => { socket.once('data', () => { setTimeout(() => socket.destroy(), 100) }) })
  const errors: string[] = []
  const pub = statsdPublisher({ port: tcp.port, protocol: 'tcp', onError: (e) => errors.push(e.message) })
  try {
    await pub.publish([entry('1-0', [record()])])
    await tcp.waitFor(() => tcp.connections[0]?.destroyed === true, 'the server to hang up')
    await sleep(50)
    assert.equal(errors, [])
    await pub.publish([entry('2-0', [record()])])
    assert.is(errors.length, 1, errors.join('\n'))
    assert.match(errors[0]!, /after the last publish had resolved: its lines may not have arrived/)
    assert.is(tcp.connections.length, 2)
  } finally {
    await pub.close()
    await tcp.close()
  }
})

test('the server dropping the connection mid-publish rejects it as transient; the retry to a restarted server delivers all', async () => {
  const big = bigPublish(20)
  const port = await freePort()
  // Gone at the first chunk: ≈ 18 MB of the publish are still to be written then, far more than loopback buffers.
  const dying = await tcpCollector(port, (socket) => socket.once('data', () => socket.destroy()))
  const pub = statsdPublisher({ port, protocol: 'tcp' })
  const error = await pub.publish(big.entries).then(() => undefined, (e: unknown) => e)
  await dying.close()
  assert.ok(error instanceof PublishError && !error.permanent, String(error))
  assert.ok(big.encoded() < 20, `${big.encoded()} entries encoded: the publish stopped at the failure`)
  const tcp = await tcpCollector(port)
  try {
    await pub.publish(big.entries)
    await pub.close()
    await tcp.waitFor(() => tcp.ended === 1, 'the client\'s FIN')
    // A publish that resolved on an unbroken connection: every line of every entry, each once.
    const expected = new Map([...tally(await linesOf(big.one))].map(([line, n]) => [line, n * 20]))
    assert.equal(tally(tcp.lines()), expected)
    assert.ok(tcp.data().endsWith('\n'))
  } finally {
    await tcp.close()
  }
})

test('a server that stops reading holds the publish: entries are encoded only as fast as the connection takes them', async () => {
  const big = bigPublish(20)
  const tcp = await tcpCollector(0, (socket) => socket.pause())
  const pub = statsdPublisher({ port: tcp.port, protocol: 'tcp' })
  try {
    let settled = 'pending'
    const publishing = pub.publish(big.entries).then(() => { settled = 'resolved' }, (e: unknown) => { settled = String(e) })
    await sleep(500)
    assert.is(settled, 'pending')
    // Without back-pressure all 20 (≈ 18 MB of lines) would sit in the agent's memory by now.
    const held = big.encoded()
    assert.ok(held < 10, `${held} of 20 entries encoded while the server read nothing`)
    tcp.connections[0]!.resume()
    await publishing
    assert.is(settled, 'resolved')
    assert.is(big.encoded(), 20)
    await pub.close()
    await tcp.waitFor(() => tcp.ended === 1, 'the client\'s FIN')
    assert.is(tcp.lines().length, 20 * (await linesOf(big.one)).length)
  } finally {
    await tcp.close()
  }
})

test('a TCP connection that takes nothing for stallTimeoutMs is given up: drained() rejects as transient', async () => {
  const tcp = await tcpCollector(0, (socket) => socket.pause())
  const transport = statsdTcp({ host: '127.0.0.1', port: tcp.port, connectTimeoutMs: 1000, stallTimeoutMs: 200 })
  try {
    await transport.ready()
    // 8 MB: more than loopback buffers take from a reader that reads nothing.
    const packet = 'x'.repeat(1399)
    for (let i = 0; i < 6000; i++) transport.send(packet, 1)
    assert.ok(transport.queuedBytes() > 0)
    const started = performance.now()
    const error = await transport.drained(0).then(() => undefined, (e: unknown) => e)
    assert.ok(error instanceof PublishError && !error.permanent, String(error))
    assert.match((error as Error).message, /no progress for 200 ms/)
    assert.ok(performance.now() - started < 2000)
    assert.is(transport.queuedBytes(), 0, 'what the dead connection held is forgotten: the publish goes again whole')
  } finally {
    await transport.close()
    await tcp.close()
  }
})

test('an idle TCP connection does not hold the process open: a child that published and never closed exits', async () => {
  const tcp = await tcpCollector()
  try {
    const child = await runNode(['--import', 'tsx', '-e', `
      const { statsdPublisher } = require('./src/agent/statsd-publisher.ts')
      const { entryOf } = require('./test/support/entries.ts')
      const record = { kind: 'request', prefix: '', route: 'idle', method: 'GET', status: 200, aborted: false,
        dimensions: {}, counters: {}, timers: { RequestTime: 1 }, timestamp: 1763798400000 }
      statsdPublisher({ port: ${tcp.port}, protocol: 'tcp' }).publish([entryOf('1-0', [record])]).then(() => console.log('published'))
    `], { timeoutMs: 10_000 })
    assert.equal([child.code, child.stdout], [0, 'published\n'], child.stderr)
    await tcp.waitFor(() => tcp.lines().length > 0, 'the line')
    assert.equal(tcp.lines(), ['idle.RequestTime:1|ms'])
  } finally {
    await tcp.close()
  }
})

test('bad options throw an OptionError (a TypeError) naming the option', () => {
  const cases = [
    [{ port: 0 }, 'port'], [{ host: '' }, 'host'], [{ protocol: 'uds' }, 'protocol'], [{ linesPerMs: 0 }, 'linesPerMs'],
    [{ burstLines: 0.5 }, 'burstLines'], [{ tags: 1 }, 'tags'], [{ statusCode: 'yes' }, 'statusCode'], [{ onError: true }, 'onError'],
  ] as const
  for (const [options, name] of cases) {
    assert.throws(() => statsdPublisher(options as never),
      (e: unknown) => e instanceof TypeError && e instanceof OptionError && e.owner === 'statsdPublisher' && e.option === name, name)
  }
  assert.throws(() => statsdPublisher({ protocol: 'uds' as never }),
    (e: Error) => e.message === 'routemeter: statsdPublisher option "protocol" must be one of "udp", "tcp", got "uds"')
})

test.run()
