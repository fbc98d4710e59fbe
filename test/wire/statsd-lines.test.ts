/**
 * The StatsD encoding (statsd-encoder.ts) and the app side's use of it (statsd-lines.ts), line by line, with no
 * socket: what statsdSink and the agent's statsdPublisher hand to UDP.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { statsdEncoding, statsdWriter, type StatsdEncodingOptions } from '../../src/wire/statsd-encoder.js'
import { packetPacker, statsdSafe, tagsThatFit, writeStatsd } from '../../src/wire/statsd-lines.js'
import { dropTotals } from '../../src/util/drops.js'
import { OptionError } from '../../src/util/option-check.js'

function record(over: Partial<MetricRecord> = {}): MetricRecord {
  return {
    kind: 'request', prefix: '', route: 'users.id', method: 'GET', status: 200, aborted: false,
    dimensions: { service: 'shop' },
    counters: { Failure: 0, ClientError: 0, Aborted: 0 },
    timers: { RequestTime: 1.8, CpuTime: 0.4 },
    timestamp: 1763798400000, ...over,
  }
}

/** The lines `writeStatsd` emits for `batch`, in order. */
function linesOf(batch: MetricRecord[], options: StatsdEncodingOptions = {}): string[] {
  const lines: string[] = []
  writeStatsd(batch, statsdEncoding(options, 'test'), (line) => lines.push(line))
  return lines
}

/** How many drops of `reason` `fn` counted. */
function dropsDuring(reason: string, fn: () => void): number {
  const before = dropTotals()[reason] ?? 0
  fn()
  return (dropTotals()[reason] ?? 0) - before
}

test('a request: a timing line per timer, then its counters, names route.Metric, no tags by default', () => {
  assert.equal(linesOf([record()]), [
    'users.id.RequestTime:1.8|ms', 'users.id.CpuTime:0.4|ms', 'users.id.Failure:0|c', 'users.id.ClientError:0|c', 'users.id.Aborted:0|c',
  ])
})

test('timers go value by value, rounded to µs; counters are summed per name over the batch, in first-seen order', () => {
  const lines = linesOf([
    record({ timers: { RequestTime: 1.23456 }, counters: { Failure: 1, rows: 2 } }),
    record({ timers: { RequestTime: 2.0004, 'db.query': 0.0004 }, counters: { rows: 3, Failure: 0 } }),
    record({ route: 'health', timers: { RequestTime: -1.5 }, counters: { Failure: 1 } }),
    record({ timers: { RequestTime: 3.14159 }, counters: { Failure: 1, ClientError: 1 } }),
  ])
  assert.equal(lines, [
    'users.id.RequestTime:1.235|ms', 'users.id.RequestTime:2|ms', 'users.id.db.query:0|ms', 'health.RequestTime:-1.5|ms',
    'users.id.RequestTime:3.142|ms',
    'users.id.Failure:2|c', 'users.id.rows:5|c', 'health.Failure:1|c', 'users.id.ClientError:1|c',
  ])
})

test('one batch of plain records (no prefix, no dimensions) keeps each status, method and abort in its own series', () => {
  // writeStatsd builds one series per route, method, status and abort of such records: a key that left one
  // of them out would tag these with another record's status.
  const plain = (over: Partial<MetricRecord>): MetricRecord =>
    record({ dimensions: {}, timers: { RequestTime: 1 }, counters: { Failure: 1 }, ...over })
  const lines = linesOf([
    plain({}), plain({ aborted: true }), plain({ status: 404 }), plain({ method: 'POST' }), plain({}),
    plain({ status: 100, aborted: true }), plain({ status: 200.5 }), plain({ dimensions: { tenant: 'a' } }), plain({ route: 'health' }),
  ], { tags: true, statusCode: true })
  const tags = (method: string, cls: string, code: number, more = ''): string =>
    `|#method:${method},status_class:${cls},status_code:${code}${more}`
  assert.equal(lines.filter((l) => l.includes('|ms')), [
    `users.id.RequestTime:1|ms${tags('GET', '2xx', 200)}`, `users.id.RequestTime:1|ms${tags('GET', 'aborted', 200)}`,
    `users.id.RequestTime:1|ms${tags('GET', '4xx', 404)}`, `users.id.RequestTime:1|ms${tags('POST', '2xx', 200)}`,
    `users.id.RequestTime:1|ms${tags('GET', '2xx', 200)}`, `users.id.RequestTime:1|ms${tags('GET', 'aborted', 100)}`,
    `users.id.RequestTime:1|ms${tags('GET', '2xx', 200)}`, `users.id.RequestTime:1|ms${tags('GET', '2xx', 200, ',tenant:a')}`,
    `health.RequestTime:1|ms${tags('GET', '2xx', 200)}`,
  ])
  // 200 three times (the fractional 200.5 writes status_code 200 too), summed into one line.
  assert.equal(lines.filter((l) => l.includes('|c')), [
    `users.id.Failure:3|c${tags('GET', '2xx', 200)}`, `users.id.Failure:1|c${tags('GET', 'aborted', 200)}`,
    `users.id.Failure:1|c${tags('GET', '4xx', 404)}`, `users.id.Failure:1|c${tags('POST', '2xx', 200)}`,
    `users.id.Failure:1|c${tags('GET', 'aborted', 100)}`, `users.id.Failure:1|c${tags('GET', '2xx', 200, ',tenant:a')}`,
    `health.Failure:1|c${tags('GET', '2xx', 200)}`,
  ])
})

test('a process record has no route: prefix.Metric, and no method or status tags', () => {
  const process = record({
    kind: 'process', route: '', method: '', status: 0, dimensions: { host: 'a' },
    counters: { 'jobs.done': 3 }, timers: { 'gc.pause': 1.25 },
  })
  assert.equal(linesOf([process]), ['gc.pause:1.25|ms', 'jobs.done:3|c'])
  assert.equal(linesOf([process], { prefix: 'edge', tags: true, statusCode: true }), [
    'edge.gc.pause:1.25|ms|#host:a', 'edge.jobs.done:3|c|#host:a',
  ])
  assert.equal(linesOf([{ ...process, dimensions: {} }], { tags: true }), ['gc.pause:1.25|ms', 'jobs.done:3|c'])
})

test('the encoding\'s prefix comes first, then the record\'s, each made canonical', () => {
  const timers = { RequestTime: 2 }
  const counters = {}
  assert.equal(linesOf([record({ timers, counters })], { prefix: 'shop' }), ['shop.users.id.RequestTime:2|ms'])
  assert.equal(linesOf([record({ timers, counters, prefix: 'api' })], { prefix: 'shop' }), ['shop.api.users.id.RequestTime:2|ms'])
  assert.equal(linesOf([record({ timers, counters, prefix: 'api' })]), ['api.users.id.RequestTime:2|ms'])
  assert.equal(linesOf([record({ timers, counters, prefix: '.my app..' })], { prefix: 'edge|1.' }), [
    'edge_1.my_app.users.id.RequestTime:2|ms',
  ])
  assert.equal(linesOf([record({ timers, counters })], { prefix: '' }), ['users.id.RequestTime:2|ms'])
})

test('statsdEncoding precomputes the prefix; statusCode needs tags; a bad option is an OptionError naming it', () => {
  assert.equal(statsdEncoding({}, 'x'), { prefix: '', tags: false, statusCode: false })
  assert.equal(statsdEncoding({ prefix: 'a b', statusCode: true }, 'x'), { prefix: 'a_b.', tags: false, statusCode: false })
  assert.equal(statsdEncoding({ prefix: 'shop', tags: true, statusCode: true }, 'x'), { prefix: 'shop.', tags: true, statusCode: true })
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ prefix: 3 }, 'prefix'], [{ tags: 'yes' }, 'tags'], [{ statusCode: 1 }, 'statusCode'],
  ]
  for (const [options, name] of bad) {
    assert.throws(() => statsdEncoding(options, 'statsdSink'), (e: Error) => e instanceof OptionError && e instanceof TypeError &&
      e.message.includes(`statsdSink option "${name}"`), name)
  }
})

test('tags: method and status_class first, then the dimensions in their order; statusCode adds status_code after status_class', () => {
  const batch = [record({ dimensions: { service: 'shop', env: 'prod' }, counters: { Failure: 0 } })]
  assert.equal(linesOf(batch, { tags: true }), [
    'users.id.RequestTime:1.8|ms|#method:GET,status_class:2xx,service:shop,env:prod',
    'users.id.CpuTime:0.4|ms|#method:GET,status_class:2xx,service:shop,env:prod',
    'users.id.Failure:0|c|#method:GET,status_class:2xx,service:shop,env:prod',
  ])
  assert.equal(linesOf(batch, { tags: true, statusCode: true })[2],
    'users.id.Failure:0|c|#method:GET,status_class:2xx,status_code:200,service:shop,env:prod')
  assert.equal(linesOf(batch, { statusCode: true })[2], 'users.id.Failure:0|c', 'statusCode without tags writes no tags')
})

test('status_class and status_code of aborted, unsent, odd and fractional statuses', () => {
  const cases: Array<[Partial<MetricRecord>, string]> = [
    [{ status: 503 }, 'status_class:5xx,status_code:503'],
    [{ status: 0, aborted: true }, 'status_class:aborted,status_code:0'],
    [{ status: 200, aborted: true }, 'status_class:aborted,status_code:200'],
    [{ status: 0 }, 'status_class:other,status_code:0'],
    [{ status: 1000 }, 'status_class:other,status_code:1000'],
    [{ status: 404.7 }, 'status_class:4xx,status_code:404'],
    [{ status: NaN }, 'status_class:other,status_code:0'],
  ]
  for (const [over, tags] of cases) {
    const lines = linesOf([record({ ...over, dimensions: {}, counters: {}, timers: { RequestTime: 1 } })], { tags: true, statusCode: true })
    assert.equal(lines, [`users.id.RequestTime:1|ms|#method:GET,${tags}`], JSON.stringify(over))
  }
})

test('a series key without a status (an agent group of a v=1 entry) is status 0: class other, code 0', () => {
  const lines: string[] = []
  const writer = statsdWriter(statsdEncoding({ tags: true, statusCode: true }, 'test'), (line) => lines.push(line))
  const series = writer.series({ kind: 'request', prefix: '', route: 'a', method: 'GET', dimensions: {} })
  const tags = '|#method:GET,status_class:other,status_code:0'
  assert.equal(series, { stem: 'a.', tags, key: `a.\0${tags}` })
  writer.timer(series, 'RequestTime', 1)
  writer.end()
  assert.equal(lines, ['a.RequestTime:1|ms|#method:GET,status_class:other,status_code:0'])
})

test('a dimension named method, status_class or status_code (after cleaning) is left out of the tags', () => {
  const dimensions = { method: 'POST', service: 'shop', status_class: '2xx', 'status class': '2xx', status_code: '200', status: 'kept' }
  const plain = linesOf([record({ status: 503, dimensions, counters: {}, timers: { RequestTime: 1 } })], { tags: true })
  assert.equal(plain, ['users.id.RequestTime:1|ms|#method:GET,status_class:5xx,service:shop,status:kept'])
  const exact = linesOf([record({ status: 503, dimensions, counters: {}, timers: { RequestTime: 1 } })], { tags: true, statusCode: true })
  assert.equal(exact, ['users.id.RequestTime:1|ms|#method:GET,status_class:5xx,status_code:503,service:shop,status:kept'])
  // A process record has no tags of ours, yet the names stay ours: no dimension takes them.
  const process = record({ kind: 'process', route: '', method: '', status: 0, dimensions, counters: { jobs: 1 }, timers: {} })
  assert.equal(linesOf([process], { tags: true }), ['jobs:1|c|#service:shop,status:kept'])
})

test('protocol characters in names and tags are replaced: no input can split a line or forge a metric or tag', () => {
  const lines = linesOf([record({
    route: 'a:b|c@d#e', method: 'GE T', dimensions: { 'k:1|2': 'x@y#z,w=v u\nq', tenant: 'zürich/eu-1.b_c' },
    counters: { 'hits,a=b': 1 }, timers: { 'db query|x\ny': 2 },
  })], { tags: true })
  assert.equal(lines, [
    'a_b_c_d_e.db_query_x_y:2|ms|#method:GE_T,status_class:2xx,k_1_2:x_y_z_w_v_u_q,tenant:z_rich/eu-1.b_c',
    'a_b_c_d_e.hits_a_b:1|c|#method:GE_T,status_class:2xx,k_1_2:x_y_z_w_v_u_q,tenant:z_rich/eu-1.b_c',
  ])
  for (const line of lines) assert.match(line, /^[A-Za-z0-9_.-]+:-?[\d.]+\|(ms|c)\|#[A-Za-z0-9_./:,-]+$/)
})

test('names forging a standard metric are dropped as name, values beyond ±1e15 or not numbers as value; the rest goes', () => {
  const batch = [record({
    timers: { RequestTime: 2, Failure: 7, 'RequestTime.': 5, db: NaN, big: 2e15, ok: 1e15 },
    counters: { Failure: 1, '.Failure': 1, 'Aborted..': 1, RequestTime: 1, inf: Infinity, neg: -1e15, text: '1' as unknown as number },
  })]
  let lines: string[] = []
  const names = dropsDuring('name', () => {
    assert.is(dropsDuring('value', () => { lines = linesOf(batch) }), 4)
  })
  assert.is(names, 5)
  assert.equal(lines, [
    'users.id.RequestTime:2|ms', 'users.id.ok:1000000000000000|ms', 'users.id.Failure:1|c', 'users.id.neg:-1000000000000000|c',
  ])
})

test('a writer starts each flush from zero: end() emits the sums and forgets them', () => {
  const lines: string[] = []
  const writer = statsdWriter(statsdEncoding({ prefix: 'p' }, 'test'), (line) => lines.push(line))
  const series = writer.series({ kind: 'request', prefix: '', route: 'r', method: 'GET', status: 200, dimensions: {} })
  writer.counter(series, 'hits', 2)
  writer.counter(series, 'hits', 3)
  assert.equal(lines, [], 'counters wait for end()')
  writer.end()
  writer.counter(series, 'hits', 1)
  writer.end()
  writer.end()
  assert.equal(lines, ['p.r.hits:5|c', 'p.r.hits:1|c'])
})

test('the same counter with different tags is two series; without tags it is one', () => {
  const batch = [
    record({ dimensions: { tenant: 'a' }, counters: { hits: 1 }, timers: {} }),
    record({ dimensions: { tenant: 'b' }, counters: { hits: 2 }, timers: {} }),
  ]
  assert.equal(linesOf(batch, { tags: true }), [
    'users.id.hits:1|c|#method:GET,status_class:2xx,tenant:a', 'users.id.hits:2|c|#method:GET,status_class:2xx,tenant:b',
  ])
  assert.equal(linesOf(batch), ['users.id.hits:3|c'])
})

test('statsdSafe is the canonical name', () => {
  assert.equal(['db query|x', '.Failure', 'a..b.', ''].map(statsdSafe), ['db_query_x', 'Failure', 'a.b', '_'])
})

test('tagsThatFit counts the tags that fit with their |# and commas, -1 when the head alone is too long', () => {
  assert.is(tagsThatFit(20, [10, 11], 40), 1)
  assert.is(tagsThatFit(20, [10, 11], 44), 2, '20 + 2 + 10 + 1 + 11 = 44')
  assert.is(tagsThatFit(20, [10, 11], 43), 1)
  assert.is(tagsThatFit(20, [10, 11], 32), 1, '20 + 2 + 10 = 32')
  assert.is(tagsThatFit(20, [10, 11], 31), 0)
  assert.is(tagsThatFit(20, [], 20), 0)
  assert.is(tagsThatFit(21, [], 20), -1)
  assert.is(tagsThatFit(21, [1], 20), -1)
})

/** A packer of `maxBytes` and what it sent: each packet with its line count. */
function packer(maxBytes: number): { add(line: string): void, flush(): void, sent: Array<[string, number]> } {
  const sent: Array<[string, number]> = []
  return { ...packetPacker(maxBytes, (packet, lines) => sent.push([packet, lines])), sent }
}

test('packetPacker joins lines with newlines up to exactly maxBytes, never cutting a line; flush sends the rest', () => {
  const p = packer(20)
  for (const line of ['a:1|c', 'bb:2|c', 'ccc:3|c', 'd:4|c', 'eeeeeeeeeeeeeeee:5|c', 'f:6|c']) p.add(line)
  // 'a:1|c\nbb:2|c\nccc:3|c' is 5 + 1 + 6 + 1 + 7 = 20 bytes: it fills a packet exactly.
  assert.equal(p.sent, [['a:1|c\nbb:2|c\nccc:3|c', 3], ['d:4|c', 1], ['eeeeeeeeeeeeeeee:5|c', 1]])
  p.flush()
  assert.equal(p.sent.slice(3), [['f:6|c', 1]])
  p.flush()
  assert.is(p.sent.length, 4, 'an empty packer sends nothing')
  p.add('g:7|c')
  p.flush()
  assert.equal(p.sent.slice(4), [['g:7|c', 1]], 'the packer starts afresh after a flush')
})

test('packetPacker counts the newline: a line that would fit only without it starts the next packet', () => {
  const p = packer(20)
  // 'a:1|c\nbb:2|c' is 12 bytes; 'ccc:33|c' is 8 more, 21 with its newline.
  for (const line of ['a:1|c', 'bb:2|c', 'ccc:33|c']) p.add(line)
  p.flush()
  assert.equal(p.sent, [['a:1|c\nbb:2|c', 2], ['ccc:33|c', 1]])
})

test('packetPacker: every line arrives whole and in order over many packets', () => {
  const p = packer(100)
  const lines = Array.from({ length: 500 }, (_, i) => `route${i % 7}.RequestTime:${(i * 1.37).toFixed(3)}|ms`)
  for (const line of lines) p.add(line)
  p.flush()
  assert.equal(p.sent.flatMap(([packet]) => packet.split('\n')), lines)
  assert.equal(p.sent.map(([packet, n]) => packet.split('\n').length - n), Array<number>(p.sent.length).fill(0), 'line counts')
  assert.ok(p.sent.every(([packet]) => packet.length <= 100), 'no packet over 100 bytes')
  // Greedy: no packet could have taken the next one's first line.
  for (let i = 0; i + 1 < p.sent.length; i++) assert.ok(p.sent[i][0].length + 1 + p.sent[i + 1][0].split('\n')[0].length > 100, String(i))
})

test('a line longer than a packet loses its last tags until it fits, counted once as size', () => {
  const line = 'users.id.RequestTime:2|ms|#method:GET,status_class:2xx,tenant:acme'
  const cases: Array<[number, string]> = [
    [line.length, line],
    [line.length - 1, 'users.id.RequestTime:2|ms|#method:GET,status_class:2xx'],
    ['users.id.RequestTime:2|ms|#method:GET,status_class:2xx'.length, 'users.id.RequestTime:2|ms|#method:GET,status_class:2xx'],
    ['users.id.RequestTime:2|ms|#method:GET'.length, 'users.id.RequestTime:2|ms|#method:GET'],
    ['users.id.RequestTime:2|ms|#method:GET'.length - 1, 'users.id.RequestTime:2|ms'],
    ['users.id.RequestTime:2|ms'.length, 'users.id.RequestTime:2|ms'],
  ]
  for (const [maxBytes, sent] of cases) {
    const p = packer(maxBytes)
    const drops = dropsDuring('size', () => { p.add(line); p.flush() })
    assert.equal(p.sent, [[sent, 1]], String(maxBytes))
    assert.is(drops, sent === line ? 0 : 1, `size drops at ${maxBytes}`)
  }
})

test('a line whose name and value alone do not fit is dropped, counted once; the lines around it still go', () => {
  const p = packer(24)
  const drops = dropsDuring('size', () => {
    p.add('a:1|c')
    p.add('users.id.RequestTime:2|ms|#method:GET')
    p.add('users.id.no_tags_at_all:2|ms')
    p.add('b:2|c')
    p.flush()
  })
  assert.is(drops, 2)
  assert.equal(p.sent, [['a:1|c\nb:2|c', 2]])
})

test('a cut line is packed like any other: it may join a packet that has room for it', () => {
  const p = packer(44)
  const drops = dropsDuring('size', () => {
    p.add('a:1|c')
    p.add('users.id.RequestTime:2|ms|#method:GET,status_class:2xx')
    p.flush()
  })
  assert.is(drops, 1)
  // 54 bytes cut to 37 ('…|#method:GET'): with 'a:1|c' and the newline, 43.
  assert.equal(p.sent, [['a:1|c\nusers.id.RequestTime:2|ms|#method:GET', 2]])
})

test('writeStatsd into packetPacker: a wide record\'s lines are cut to the packet, the narrow one\'s are not', () => {
  const dimensions: Record<string, string> = {}
  for (let i = 0; i < 8; i++) dimensions[`d${i}`] = 'x'.repeat(20)
  const packets: string[] = []
  const p = packetPacker(126, (packet) => packets.push(packet))
  const drops = dropsDuring('size', () => {
    const batch = [
      record({ dimensions, counters: {}, timers: { RequestTime: 2 } }),
      record({ route: 'narrow', dimensions: {}, counters: {}, timers: { RequestTime: 3 } }),
    ]
    writeStatsd(batch, statsdEncoding({ tags: true }, 'test'), (line) => p.add(line))
    p.flush()
  })
  assert.is(drops, 1)
  const x = 'x'.repeat(20)
  // 25 bytes of head, 29 of '|#method:GET,status_class:2xx', 24 per dimension: three fit in 126 bytes, exactly.
  assert.equal(packets, [
    `users.id.RequestTime:2|ms|#method:GET,status_class:2xx,d0:${x},d1:${x},d2:${x}`,
    'narrow.RequestTime:3|ms|#method:GET,status_class:2xx',
  ])
})

test('dimension keys that clean alike give one tag, the first; the other and an empty key are counted as name drops', () => {
  const before = dropTotals().name ?? 0
  const lines: string[] = []
  const dimensions = { 'a b': '1', a_b: '2', '': 'x', c: '3' }
  writeStatsd([record({ dimensions })], statsdEncoding({ tags: true }, 't'), (l) => lines.push(l))
  assert.is(lines[0], 'users.id.RequestTime:1.8|ms|#method:GET,status_class:2xx,a_b:1,c:3')
  assert.is((dropTotals().name ?? 0) - before, 2, 'once per record: its tags are cleaned once')
})

test.run()
