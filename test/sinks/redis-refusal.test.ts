/**
 * One XADD refused in the middle of a pipeline (an error reply, such as -OOM), the XADDs after it applied: what
 * Redis applied must not be sent again. A real Redis refuses a stream's XADDs all alike (WRONGTYPE, OOM once
 * memory is full), so a peer of our own answers here, one byte at a time, so that the refusal is read while the
 * replies after it are still on their way.
 */
import net from 'node:net'
import { once } from 'node:events'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { redisSink } from '../../src/sinks/redis.js'
import { decodeEntry, toRecords } from '../../src/wire/stream-encoding.js'
import { until } from '../support/eventually.js'

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

test('an XADD refused in mid-pipeline is sent again, and the ones Redis applied after it are not', async () => {
  const applied: number[] = []
  let xadds = 0
  const peers = new Set<net.Socket>()
  const fake = net.createServer((socket) => {
    peers.add(socket)
    socket.on('close', () => peers.delete(socket))
    let pending: Buffer = Buffer.alloc(0)
    let replying = Promise.resolve()
    socket.on('data', (chunk: Buffer) => {
      const { done, rest } = commands(Buffer.concat([pending, chunk]))
      pending = rest
      for (const args of done) {
        let reply = '+PONG\r\n'
        if (args[0] === 'XADD') {
          xadds++
          if (xadds === 3) {
            reply = '-OOM command not allowed when used memory > \'maxmemory\'.\r\n'
          } else {
            const p = args[args.indexOf('p') + 1]!
            applied.push(...toRecords(decodeEntry('1', p)).map((r) => r.timestamp))
            const id = `${xadds}-0`
            reply = `$${id.length}\r\n${id}\r\n`
          }
        }
        replying = replying.then(async () => {
          for (const byte of reply) {
            if (socket.destroyed) return
            socket.write(byte)
            await new Promise((resolve) => setTimeout(resolve, 1))
          }
        })
      }
    })
  })
  fake.listen(0, '127.0.0.1')
  await once(fake, 'listening')
  const errors: string[] = []
  const url = `redis://127.0.0.1:${(fake.address() as net.AddressInfo).port}`
  const sink = redisSink({ url, encoding: 1, onError: (e) => errors.push(e.message) })
  try {
    void sink.send([record(0)])
    await sink.flush()
    // Ten entries at once: ten XADDs in flight on one connection, the second of them (the 3rd XADD) refused.
    for (let i = 1; i <= 10; i++) void sink.send([record(i)])
    await until(() => sink.stats().delivered === 11, 'every record delivered', 10_000)
    assert.equal([...applied].sort((a, b) => a - b), Array.from({ length: 11 }, (_, i) => 1764806400000 + i),
      'each record applied once: none of those applied after the refusal sent again')
    assert.is(sink.stats().outages, 1)
    assert.match(errors.join('\n'), /OOM/)
  } finally {
    await sink.close()
    for (const socket of peers) socket.destroy()
    fake.close()
  }
})

test.run()
