/**
 * The sink's RESP2 reply reader on its own: bytes in, replies out, whatever the chunks. The bytes are what
 * Redis 7 sends for AUTH, SELECT and XADD (the socket writer's test runs them against a real redis-server).
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { replyReader } from '../../src/sinks/resp-replies.js'
import { uniform } from '../support/random.js'

const test = suite('RESP replies')

/** What the reader heard: 'ok', the error message, or 'broken: …'. */
function listen(): { heard: string[], read: (chunk: Buffer) => void } {
  const heard: string[] = []
  const read = replyReader({
    reply: (error) => heard.push(error === undefined ? 'ok' : error.message),
    broken: (error) => heard.push(`broken: ${error.message}`),
  })
  return { heard, read }
}

const replies = '+OK\r\n$15\r\n1764806400000-0\r\n-WRONGPASS invalid username-password pair\r\n' +
  ':3\r\n$-1\r\n$0\r\n\r\n$5\r\n\u00e9t\u00e9\r\n'
const expected = ['ok', 'ok', 'WRONGPASS invalid username-password pair', 'ok', 'ok', 'ok', 'ok']

test('whole replies in one chunk: each heard once, in order, an error reply with its message', () => {
  const { heard, read } = listen()
  read(Buffer.from(replies))
  assert.equal(heard, expected)
})

test('the same bytes one at a time, and cut at random places: the same replies, none early', () => {
  const bytes = Buffer.from(replies)
  const one = listen()
  for (let i = 0; i < bytes.length; i++) {
    one.read(bytes.subarray(i, i + 1))
    // The bulk reply (bytes 5–26) is heard only once its last byte is in, not while its payload arrives.
    if (i === 25) assert.equal(one.heard, ['ok'])
    if (i === 26) assert.equal(one.heard, ['ok', 'ok'])
  }
  assert.equal(one.heard, expected)
  const random = uniform(7)
  for (let round = 0; round < 200; round++) {
    const cut = listen()
    let at = 0
    while (at < bytes.length) {
      const size = 1 + Math.floor(random() * 12)
      cut.read(bytes.subarray(at, at + size))
      at += size
    }
    assert.equal(cut.heard, expected, `round ${round}`)
  }
})

test('a bulk payload holding \\r\\n is read by its length, not split at it', () => {
  const { heard, read } = listen()
  read(Buffer.from('$4\r\n\r\n\r\n\r\n+OK\r\n'))
  assert.equal(heard, ['ok', 'ok'])
})

test('an array, a RESP3 reply or a malformed length breaks the stream once; nothing after it is read', () => {
  for (const [bytes, message] of [
    ['*1\r\n$1\r\na\r\n+OK\r\n', 'does not read ("*")'],
    ['%1\r\n', 'does not read ("%")'],
    ['$x\r\n+OK\r\n', 'malformed'],
    ['$\r\n+OK\r\n', 'malformed'],
  ] as const) {
    const { heard, read } = listen()
    read(Buffer.from(`+OK\r\n${bytes}`))
    read(Buffer.from('+OK\r\n'))
    assert.is(heard.length, 2, bytes)
    assert.is(heard[0], 'ok')
    assert.ok(heard[1].startsWith('broken: ') && heard[1].includes(message), heard[1])
  }
})

test.run()
