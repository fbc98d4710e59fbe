/**
 * XADDs refused in the middle of a pipeline (an error reply, such as -OOM) while others are in flight on the same
 * connection. A real Redis refuses a stream's XADDs all alike (WRONGTYPE, OOM once memory is full), so a peer of
 * our own answers here, as each test says.
 */
import net from 'node:net'
import { once } from 'node:events'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { redisSink } from '../../src/sinks/redis.js'
import { decodeEntry, toRecords } from '../../src/wire/stream-encoding.js'
import { sleep, until } from '../support/eventually.js'

const record = (i: number): MetricRecord => ({
  kind: 'request', prefix: '', route: 'users.id', method: 'GET', status: 200, aborted: false, dimensions: {},
  counters: { Failure: 0 }, timers: { RequestTime: 1 }, timestamp: 1764806400000 + i,
})

/** The commands in `buffer` that are complete (RESP arrays of bulk strings), and the bytes left over. */
function commands(buffer: Buffer): { done: string[][], rest: Buffer } {
  const done: string[][] = []
  let at = 0
  for (;;) {
    const start = at
    const line = (): string | undefined => {
      const end = buffer.indexOf('\r\n', at)
      if (end === -1) return undefined
      const text = buffer.toString('latin1', at, end)
      at = end + 2
      return text
    }
    const head = line()
    if (head === undefined) return { done, rest: buffer.subarray(start) }
    const args: string[] = []
    for (let n = Number(head.slice(1)); n > 0; n--) {
      const size = line()
      if (size === undefined || buffer.length < at + Number(size.slice(1)) + 2) return { done, rest: buffer.subarray(start) }
      args.push(buffer.toString('utf8', at, at + Number(size.slice(1))))
      at += Number(size.slice(1)) + 2
    }
    done.push(args)
  }
}

/** What the peer does with one XADD: its reply (`applied`: an id, counted), sent at once or later; undefined: none. */
type Answer = { reply: string, delayMs?: number } | undefined

/**
 * A peer answering PING with PONG and each XADD as `answer` says, given the XADD's number on its connection and the
 * connection's number (both from 1). Replies go a byte at a time: a refusal is read while the replies after it
 * are still on their way. `applied` holds the timestamps of the records of every XADD answered with an id.
 */
async function fakeRedis(answer: (xadd: number, connection: number) => Answer) {
  const applied: number[] = []
  const peers = new Set<net.Socket>()
  let connections = 0
  const server = net.createServer((socket) => {
    const connection = ++connections
    let xadds = 0
    peers.add(socket)
    socket.on('close', () => peers.delete(socket))
    let pending: Buffer = Buffer.alloc(0)
    let replying = Promise.resolve()
    const send = (reply: string): void => {
      replying = replying.then(async () => {
        for (const byte of reply) {
          if (socket.destroyed) return
          socket.write(byte)
          await sleep(1)
        }
      })
    }
    socket.on('data', (chunk: Buffer) => {
      const { done, rest } = commands(Buffer.concat([pending, chunk]))
      pending = rest
      for (const args of done) {
        if (args[0] !== 'XADD') { send('+PONG\r\n'); continue }
        const what = answer(++xadds, connection)
        if (what === undefined) continue
        const reply = (): string => {
          if (what.reply !== 'applied') return what.reply
          applied.push(...toRecords(decodeEntry('1', args[args.indexOf('p') + 1]!)).map((r) => r.timestamp))
          const id = `${connection}-${xadds}`
          return `$${id.length}\r\n${id}\r\n`
        }
        if (what.delayMs === undefined) send(reply())
        else setTimeout(() => { if (!socket.destroyed) send(reply()) }, what.delayMs)
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    applied,
    connections: () => connections,
    close() {
      for (const socket of peers) socket.destroy()
      server.close()
    },
  }
}

const OOM = '-OOM command not allowed when used memory > \'maxmemory\'.\r\n'

test('an XADD refused in mid-pipeline is sent again, and the ones Redis applied after it are not', async () => {
  let total = 0
  const fake = await fakeRedis(() => (++total === 3 ? { reply: OOM } : { reply: 'applied' }))
  const errors: string[] = []
  const sink = redisSink({ url: fake.url, encoding: 1, onError: (e) => errors.push(e.message) })
  try {
    void sink.send([record(0)])
    await sink.flush()
    // Ten entries at once: ten XADDs in flight on one connection, the second of them (the 3rd XADD) refused.
    for (let i = 1; i <= 10; i++) void sink.send([record(i)])
    await until(() => sink.stats().delivered === 11, 'every record delivered', 10_000)
    // Before, the connection ended at the refusal and the XADDs Redis had applied after it went again.
    assert.equal([...fake.applied].sort((a, b) => a - b), Array.from({ length: 11 }, (_, i) => 1764806400000 + i),
      'each record applied once')
    assert.is(sink.stats().outages, 1)
    assert.match(errors.join('\n'), /OOM/)
  } finally {
    await sink.close()
    fake.close()
  }
})

test('entries refused on the old connection after the new one is up go out without waiting for another batch', async () => {
  // The first connection refuses its first XADD at once and the others 400 ms later, when the sink is connected again.
  const fake = await fakeRedis((xadd, connection) =>
    (connection > 1 ? { reply: 'applied' } : { reply: OOM, delayMs: xadd === 1 ? undefined : 400 }))
  const sink = redisSink({ url: fake.url, encoding: 1, onError: () => {} })
  try {
    for (let i = 0; i < 5; i++) void sink.send([record(i)])
    // No send and no flush() from here: before, the five waited in the backlog for the app's next batch.
    await until(() => sink.stats().delivered === 5, 'the five delivered on the new connection', 5000)
    assert.is(fake.applied.length, 5)
    assert.is(fake.connections(), 2)
  } finally {
    await sink.close()
    fake.close()
  }
})

test('close() gives up on the XADDs of a connection still ending after a refusal, and counts them before it resolves', async () => {
  // The first XADD refused, the other four never answered: the old connection waits for their replies.
  const fake = await fakeRedis((xadd, connection) => (connection === 1 && xadd === 1 ? { reply: OOM } : undefined))
  const sink = redisSink({ url: fake.url, encoding: 1, onError: () => {} })
  try {
    for (let i = 0; i < 5; i++) void sink.send([record(i)])
    await until(() => sink.stats().outages === 1, 'the refusal')
    await sink.close(100)
    // Before, 1 of the 5 was counted here and the other 4 a second later, when the old connection was destroyed.
    assert.is(sink.stats().droppedClose, 5)
  } finally {
    fake.close()
  }
})

test.run()
