import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { Writable } from 'node:stream'
import type { MetricRecord } from '../../src/wire/record.js'
import { consolePublisher } from '../../src/agent/console-publisher.js'
import { PublishError } from '../../src/agent/publisher.js'
import { OptionError } from '../../src/util/option-check.js'
import { entryOf as entry } from '../support/entries.js'
import { sleep, until } from '../support/eventually.js'
import { stopChild, trackChild } from '../support/services.js'

function record(route: string, ms: number, status = 200): MetricRecord {
  return {
    kind: 'request', prefix: '', route, method: 'GET', status, aborted: false, dimensions: {},
    counters: { Failure: status >= 500 ? 1 : 0, ClientError: status >= 400 && status < 500 ? 1 : 0 }, timers: { RequestTime: ms },
    timestamp: 1763798400000,
  }
}
function capture(): { write(s: string): boolean, text: string } {
  const out = { text: '', write(s: string) { out.text += s; return true } }
  return out
}

test('the table has a row per route and method, busiest first: avg, p50 and p99 merged across entries, max, error counts', async () => {
  const out = capture()
  const pub = consolePublisher({ output: out })
  await pub.publish([
    entry('1-0', [record('health', 1), record('users.id', 2), record('users.id', 4, 500)]),
    entry('1-1', [record('users.id', 6, 404)]),
  ])
  const lines = out.text.trim().split('\n')
  assert.match(lines[0], /^route\s+method\s+requests\s+avg ms\s+p50 ms\s+p99 ms\s+max ms\s+5xx\s+4xx$/)
  // 2, 4 and 6 ms over two entries: p50 and p99 are the middle value's bucket (rank ⌊q · 2⌋ = 1), 3.96 (within 1.08 % of 4).
  assert.match(lines[1], /^users\.id\s+GET\s+3\s+4\.00\s+3\.96\s+3\.96\s+6\.00\s+1\s+1$/)
  assert.match(lines[2], /^health\s+GET\s+1\s+1\.00\s+1\.00\s+1\.00\s+1\.00\s+0\s+0$/)
})

test('a route name with a line break or an escape sequence stays on its row, without its control characters', async () => {
  const out = capture()
  const pub = consolePublisher({ output: out })
  await pub.publish([entry('1-0', [record('evil\nFAKE-ROW  GET  999999', 2), record('\x1b[2J\x1b]0;owned\x07x', 1)])])
  const lines = out.text.trim().split('\n')
  assert.is(lines.length, 3, out.text)
  // eslint-disable-next-line no-control-regex
  assert.not.match(out.text, /[\0-\x09\x0b-\x1f\x7f-\x9f]/)
  assert.match(lines[1], /^evil\ufffdFAKE-ROW {2}GET {2}999999\s+GET\s+1\s/)
})

test('json: true prints one parseable line per series per entry', async () => {
  const out = capture()
  const pub = consolePublisher({ json: true, output: out })
  await pub.publish([entry('7-3', [record('a', 1), record('a', 3)])])
  const rows = out.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  const time = rows.find((r) => r.measurement === 'RequestTime')
  assert.equal(time, {
    id: '7-3', measurement: 'RequestTime', type: 'timer', kind: 'request', prefix: '', route: 'a', method: 'GET', dimensions: {},
    status_class: '2xx', count: 2, sum: 4, min: 1, max: 3, p50: 1, p90: 1, p99: 1,
  })
})

test('bad options are OptionErrors (TypeErrors) naming the option', () => {
  const bads: Array<[Record<string, unknown>, string]> = [
    [{ output: {} }, 'output'], [{ output: 'stdout' }, 'output'], [{ json: 'yes' }, 'json'],
  ]
  for (const [bad, option] of bads) {
    assert.throws(() => consolePublisher(bad as never), (e: unknown) =>
      e instanceof TypeError && e instanceof OptionError && e.owner === 'consolePublisher' && e.option === option, JSON.stringify(bad))
  }
  assert.throws(() => consolePublisher({ json: 1 as never }),
    (e: Error) => e.message === 'routemeter: consolePublisher option "json" must be true or false, got 1')
})

/** How `promise` stands after `ms`: a quiet period long enough for a drain that was not held back to have come. */
async function after(promise: Promise<unknown>, ms = 100): Promise<'pending' | 'resolved' | 'rejected'> {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending'
  promise.then(() => { state = 'resolved' }, () => { state = 'rejected' })
  await sleep(ms)
  return state
}

interface SlowReader { child: ReturnType<typeof spawn>, stdin: Writable, errors: string[], got: Promise<{ bytes: number, tail: string }> }

/**
 * A node child at the other end of a real pipe, reading nothing from stdin until told `read`; at end of input it
 * sends how many bytes it got and the last of them. `errors` are the codes the pipe's writable side emitted: the
 * test's own listener, as an app with an 'error' handler on its output has, so the failure must reach publish
 * through 'close' too, and an EPIPE after a failed assertion does not end the test process.
 */
function slowReader(): SlowReader {
  const code = `
    let bytes = 0, tail = ''
    process.on('message', () => process.stdin.on('data', (d) => { bytes += d.length; tail = (tail + d).slice(-2000) }))
    process.stdin.on('end', () => process.send({ bytes, tail }, () => process.exit(0)))
  `
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'ignore', 'inherit', 'ipc'] })
  const untrack = trackChild(child)
  child.once('exit', untrack)
  const got = new Promise<{ bytes: number, tail: string }>((resolve) => child.once('message', (m) => resolve(m as never)))
  const errors: string[] = []
  child.stdin?.on('error', (e: NodeJS.ErrnoException) => errors.push(String(e.code)))
  return { child, stdin: child.stdin as Writable, errors, got }
}

// More than the kernel's pipe buffer (64 KiB on Linux) plus the socket's highWaterMark: the writable stays full.
const FILL = '.'.repeat(1 << 20)
const entries = [entry('1-0', [record('users.id', 2), record('health', 1)])]

test('a real pipe to a slow reader: publish waits while the pipe is full and resolves once the reader drains it', async () => {
  const { child, stdin, got } = slowReader()
  try {
    const pub = consolePublisher({ output: stdin })
    assert.is(stdin.write(FILL), false, 'the filler alone is over the highWaterMark')
    const publishing = pub.publish(entries)
    assert.is(await after(publishing), 'pending')
    assert.ok(stdin.writableLength > stdin.writableHighWaterMark, `writableLength ${stdin.writableLength}`)
    child.send('read')
    await publishing
    assert.is(stdin.listenerCount('drain') + stdin.listenerCount('close'), 0, 'no listener left behind')
    stdin.end()
    const { bytes, tail } = await got
    assert.ok(bytes > FILL.length, String(bytes))
    assert.match(tail, /route\s+method\s+requests[^]*users\.id\s+GET\s+1\s/)
  } finally { await stopChild(child, 1000) }
})

test('a reader that goes away (EPIPE) rejects the waiting publish with a retryable PublishError, and later ones at once', async () => {
  const { child, stdin, errors } = slowReader()
  const pub = consolePublisher({ output: stdin })
  stdin.write(FILL)
  const publishing = pub.publish(entries)
  assert.is(await after(publishing), 'pending')
  await stopChild(child, 1000, 'SIGKILL')
  const error = await Promise.race([publishing.then(() => 'resolved', (e: unknown) => e), sleep(2000).then(() => 'hung')])
  assert.equal(errors, ['EPIPE'], 'the reader went away')
  assert.instance(error, PublishError)
  assert.is((error as PublishError).permanent, false)
  assert.match((error as Error).message, /^console: the output is gone \(.+\); the entries stay unacked$/)
  try { await pub.publish(entries); assert.unreachable('a destroyed output takes nothing') } catch (e) {
    assert.instance(e, PublishError)
    assert.is((e as PublishError).permanent, false)
  }
})

/** A Writable of `highWaterMark` bytes whose writes complete only once released. */
function stalled(highWaterMark = 16): { output: Writable, text: () => string, release(): void } {
  let text = ''
  let open = false
  const held: Array<() => void> = []
  const output = new Writable({
    highWaterMark, decodeStrings: false,
    write(chunk: string, _encoding, done) { text += chunk; if (open) done(); else held.push(done) },
  })
  return { output, text: () => text, release() { open = true; for (const done of held.splice(0)) done() } }
}

test('above its highWaterMark, publish resolves at drain, not before; no listener stays behind', async () => {
  for (let round = 0; round < 12; round++) { // more than the 10 listeners Node warns about, were any left behind
    const { output, text, release } = stalled()
    const pub = consolePublisher({ output })
    const publishing = pub.publish(entries)
    assert.is(await after(publishing, round === 0 ? 100 : 5), 'pending')
    assert.match(text(), /users\.id/, 'the text was written; only the drain is awaited')
    release()
    await publishing
    assert.equal(['drain', 'finish', 'error', 'close'].map((e) => output.listenerCount(e)), [0, 0, 0, 0])
  }
})

test('an output destroyed while publish waits, with an error or without, rejects it (retryable) instead of hanging it', async () => {
  // With an error, publish's own listener is the only one: the error is its to report, not the process's to crash on.
  for (const [cause, why] of [[new Error('write EPIPE'), '(write EPIPE)'], [undefined, '(closed)']] as const) {
    const { output } = stalled()
    const pub = consolePublisher({ output })
    const publishing = pub.publish(entries)
    assert.is(await after(publishing), 'pending')
    output.destroy(cause)
    const error = await Promise.race([publishing.then(() => 'resolved', (e: unknown) => e), sleep(2000).then(() => 'hung')])
    assert.instance(error, PublishError, why)
    assert.is((error as PublishError).permanent, false)
    assert.ok((error as Error).message.includes(why), (error as Error).message)
  }
})

test('an output ended while publish waits resolves it once everything is flushed (finish)', async () => {
  const { output, release } = stalled()
  const pub = consolePublisher({ output })
  const publishing = pub.publish(entries)
  output.end()
  assert.is(await after(publishing), 'pending')
  release()
  await until(() => output.writableFinished, 'the output to finish')
  await publishing
})

test('an output with write() alone is never waited for, even when write returns false', async () => {
  const texts: string[] = []
  const pub = consolePublisher({ output: { write: (text: string) => { texts.push(text); return false } } })
  assert.is(await after(pub.publish(entries), 20), 'resolved')
  assert.is(texts.length, 1)
})

test.run()
