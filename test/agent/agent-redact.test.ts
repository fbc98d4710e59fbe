/** The agent's log never shows the Redis password, whatever its spelling in the URL, even when a server echoes it. */
import net from 'node:net'
import { once } from 'node:events'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startAgent } from '../../src/agent/agent.js'
import { until } from '../support/eventually.js'

/** A "Redis" that answers every command with an error echoing what it was sent (the password included). */
async function echoingServer(): Promise<{ port: number, close(): void }> {
  const server = net.createServer((socket) => {
    socket.on('data', (data) => { socket.write(`-ERR refused ${data.toString('latin1').replace(/\r\n/g, ' ')}\r\n`) })
    socket.on('error', () => {})
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { port: (server.address() as net.AddressInfo).port, close: () => { server.close() } }
}

test('a Redis password with an unescaped @ is redacted whole from what the agent logs, not just its part before the @', async () => {
  const server = await echoingServer()
  const messages: string[] = []
  const agent = startAgent({
    redis: `redis://:p4@ssw0rd@127.0.0.1:${server.port}`, blockMs: 100, drainTimeoutMs: 200,
    publishers: [{ name: 'none', async publish() {}, async close() {} }],
    onError: (error) => { messages.push(error.message) },
  })
  await until(() => messages.length > 0, 'a warning from the agent')
  await agent.stop()
  server.close()
  // One warning (the agent says it once per outage), whose echo shows where the password went: AUTH's
  // 9-byte argument, masked whole.
  assert.is(messages.length, 1, messages.join('\n'))
  const message = messages[0]!
  assert.ok(message.startsWith(`routemeter agent: Redis at redis://:***@127.0.0.1:${server.port} unavailable (ERR refused `), message)
  assert.ok(message.includes(' AUTH $7 default $9 *** '), message)
  assert.not.match(message, /ssw0rd/, message)
  assert.not.match(message, /p4@/, message)
})

test.run()
