/**
 * A consumer group that keeps vanishing: every XREADGROUP answers NOGROUP although XGROUP CREATE succeeds. The
 * agent recreates the group each time, silently, but backs off between attempts instead of spinning. A tiny
 * RESP server plays Redis, so the failure is the same every time.
 */
import net from 'node:net'
import { once } from 'node:events'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startAgent } from '../../src/agent/agent.js'
import { waitFor } from '../support/services.js'

/** Reads RESP arrays of bulk strings (what a client sends) off a socket, calling `command` with each. */
function commands(socket: net.Socket, command: (args: string[]) => void): void {
  let buffer = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk])
    for (;;) {
      const parsed = parseArray(buffer)
      if (parsed === undefined) return
      buffer = buffer.subarray(parsed.length)
      command(parsed.args)
    }
  })
}

function parseArray(buffer: Buffer): { args: string[], length: number } | undefined {
  const text = buffer.toString('latin1')
  let at = text.indexOf('\r\n')
  if (at === -1) return undefined
  const count = Number(text.slice(1, at))
  at += 2
  const args: string[] = []
  for (let i = 0; i < count; i++) {
    const end = text.indexOf('\r\n', at)
    if (end === -1) return undefined
    const size = Number(text.slice(at + 1, end))
    if (text.length < end + 2 + size + 2) return undefined
    args.push(text.slice(end + 2, end + 2 + size))
    at = end + 2 + size + 2
  }
  return { args, length: at }
}

test('a group that keeps vanishing (NOGROUP on every read) is recreated with backoff between attempts, without warnings', async () => {
  const reads: number[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    commands(socket, (args) => {
      const name = args[0].toUpperCase()
      if (name === 'XREADGROUP') {
        reads.push(performance.now())
        socket.write("-NOGROUP No such key 'rm' or consumer group 'g' in XREADGROUP with GROUP option\r\n")
      } else if (name === 'XPENDING' || name === 'XINFO') socket.write('*0\r\n')
      else socket.write('+OK\r\n')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const errors: string[] = []
  const agent = startAgent({
    redis: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`, stream: 'rm', group: 'g', consumer: 'c', blockMs: 100,
    drainTimeoutMs: 500, publishers: [{ name: 'none', async publish() {}, async close() {} }], onError: (e) => { errors.push(e.message) },
  })
  try {
    await waitFor('four reads', () => reads.length >= 4, 10_000, 5)
  } finally {
    await agent.stop()
    for (const socket of sockets) socket.destroy()
    server.close()
  }
  // The backoff after failure k is 100 × 2^k ms, ±20 %: at least 80, 160, 320 ms between the reads.
  const gaps = reads.slice(1, 4).map((t, i) => t - reads[i])
  const shownGaps = gaps.map((g) => `${g.toFixed(1)} ms`).join(', ')
  gaps.forEach((gap, k) => { assert.ok(gap >= 0.8 * 100 * 2 ** k - 1, `gap ${k} too short: ${shownGaps}`) })
  assert.equal(errors, [])
})

test.run()
