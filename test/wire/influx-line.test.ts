/**
 * InfluxDB line protocol, built from hand-made series with no influxd: exact lines, escaping, tag sets, the
 * merges that keep point identities apart, and the quantile read off summed bucket fields. What a real
 * influxd makes of the lines is test/agent/influx-publisher.test.ts and influx-hostile.test.ts.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { entryTimestampNs, escapeMeasurement, escapeTag, quantileFromSums, seriesToLines } from '../../src/wire/influx-line.js'
import { Sketch } from '../../src/wire/sketch.js'
import { statusClass } from '../../src/wire/status-class.js'
import type { Series } from '../../src/wire/series.js'
import type { DecodedGroup } from '../../src/wire/stream-encoding.js'
import { dropTotals } from '../../src/util/drops.js'

const TS = '1763798400123000007'

function group(over: Partial<DecodedGroup> = {}): DecodedGroup {
  return {
    kind: 'request', prefix: '', route: 'users.id', method: 'GET', dimensions: { service: 'shop' }, status: 200, aborted: false, ...over,
  }
}

/** A series of `values` as the agent aggregates them: a timer with its sketch (unless `sketch: false`). */
function series(g: DecodedGroup, type: Series['type'], name: string, values: number[], sketch = true): Series {
  let s: Sketch | undefined
  if (type === 'timer' && sketch) {
    s = new Sketch()
    for (const v of values) s.add(v)
  }
  return {
    group: g, type, name, count: values.length, sum: values.reduce((a, b) => a + b, 0), min: Math.min(...values), max: Math.max(...values),
    sketch: s, statusClass: g.kind === 'request' ? statusClass(g.status ?? 0, g.aborted === true) : undefined,
  }
}

const counter = (g: DecodedGroup, name: string, values: number[]): Series => series(g, 'counter', name, values)
const timer = (g: DecodedGroup, name: string, values: number[]): Series => series(g, 'timer', name, values)

/** The measurement and tag set of each line (up to its first unescaped space): a point's identity besides the timestamp. */
const keys = (text: string): string[] => text.split('\n').map((line) => /^(?:\\.|[^\\ ])*/.exec(line)![0])

/** How many `name` drops `fn` counted. */
function nameDrops(fn: () => void): number {
  const before = dropTotals().name ?? 0
  fn()
  return (dropTotals().name ?? 0) - before
}

test('a counter series: measurement, sorted tags with status_class, count/sum/min/max, the timestamp as given', () => {
  assert.is(seriesToLines([counter(group(), 'Failure', [0, 1, 0])], TS),
    'Failure,method=GET,route=users.id,service=shop,status_class=2xx count=3i,sum=1,min=0,max=1 1763798400123000007')
})

test('a timer series: then p50, p90, p99 with every digit, and a b<k> integer field per bucket in index order', () => {
  // 1, 2, 4, 8, 16 ms are buckets 0, 32, 64, 96, 128 (2^(k/32)). p50 is the value of rank 2 (4 ms): bucket 64
  // stands for 2·2^(64/32) / (1 + 2^(1/32)) = 3.95668; p90 and p99 are rank 3 (8 ms), bucket 96.
  assert.is(seriesToLines([timer(group(), 'RequestTime', [16, 1, 8, 2, 4])], TS),
    'RequestTime,method=GET,route=users.id,service=shop,status_class=2xx count=5i,sum=31,min=1,max=16,' +
    'p50=3.9566799949865055,p90=7.913359989973011,p99=7.913359989973011,b0=1i,b32=1i,b64=1i,b96=1i,b128=1i 1763798400123000007')
})

test('zeros are a zero field and negative values nb<k> fields, after the positive buckets', () => {
  // Sorted: -8, -4, -2, 0, 3. p50 is rank 2 (-2 ms: bucket 32 mirrored), p90 and p99 rank 3 (0).
  assert.is(seriesToLines([timer(group(), 'offset', [-8, -4, -2, 0, 3])], '1'),
    'offset,method=GET,route=users.id,service=shop,status_class=2xx count=5i,sum=-11,min=-8,max=3,' +
    'p50=-1.9783399974932527,p90=0,p99=0,zero=1i,b51=1i,nb32=1i,nb64=1i,nb96=1i 1')
})

test('floats are written as JavaScript prints them, every digit and exponents included; counts are integers', () => {
  const g = group({ kind: 'process', route: '', method: '', dimensions: {} })
  assert.is(seriesToLines([counter(g, 'a', [0.1, 0.2]), counter(g, 'b', [6e20, 6e20]), counter(g, 'c', [-1e15, 1e15])], '5'), [
    'a count=2i,sum=0.30000000000000004,min=0.1,max=0.2 5',
    'b count=2i,sum=1.2e+21,min=600000000000000000000,max=600000000000000000000 5',
    'c count=2i,sum=0,min=-1000000000000000,max=1000000000000000 5',
  ].join('\n'))
})

test('one line per series in first-seen order, joined by newlines with none at the end', () => {
  const a = group()
  const b = group({ route: 'health', dimensions: {} })
  const text = seriesToLines([counter(a, 'Failure', [0]), timer(b, 'RequestTime', [2]), counter(b, 'Failure', [1])], '9')
  assert.equal(text.split('\n'), [
    'Failure,method=GET,route=users.id,service=shop,status_class=2xx count=1i,sum=0,min=0,max=0 9',
    'RequestTime,method=GET,route=health,status_class=2xx count=1i,sum=2,min=2,max=2,p50=2,p90=2,p99=2,b32=1i 9',
    'Failure,method=GET,route=health,status_class=2xx count=1i,sum=1,min=1,max=1 9',
  ])
  assert.is(seriesToLines([], '9'), '')
})

test('the same series and entry id give the very same text: a redelivered entry overwrites its points', () => {
  const list = [counter(group(), 'Failure', [1]), timer(group({ status: 503 }), 'RequestTime', [1.5, 250])]
  const ns = entryTimestampNs('1763798400123-7')
  assert.is(ns, TS)
  assert.is(seriesToLines(list, ns!), seriesToLines([...list], entryTimestampNs('1763798400123-7')!))
})

test('entryTimestampNs pads the sequence to six digits: ms × 10^6 + seq', () => {
  const ids = ['1763798400123-0', '1763798400123-1', '1763798400123-42', '1763798400123-123456', '1-999999', '12-5']
  assert.equal(ids.map(entryTimestampNs), [
    '1763798400123000000', '1763798400123000001', '1763798400123000042', '1763798400123123456', '1999999', '12000005',
  ])
  assert.equal(['1763798400123-7 ', ' 1-0', '1.5-0', '1-0x1', '-1-0', '1-+1'].map(entryTimestampNs), Array<undefined>(6).fill(undefined))
})

test('escapeMeasurement: commas and spaces escaped; equals signs, quotes and backslashes inside kept', () => {
  const names = ['Request Time', 'a,b', 'a=b', 'say "hi"', "it's", 'a\\b', 'a\\=b', 'a\\"b']
  assert.equal(names.map(escapeMeasurement), ['Request\\ Time', 'a\\,b', 'a=b', 'say\\ "hi"', "it's", 'a\\b', 'a\\=b', 'a\\"b'])
})

test('escapeMeasurement: a backslash before a comma, a space or the end becomes /, it would escape our separator', () => {
  assert.equal(['a\\', 'a\\ b', 'a\\,b', 'a\\\\'].map(escapeMeasurement), ['a/', 'a/\\ b', 'a/\\,b', 'a\\/'])
})

test('escapeMeasurement: control characters become (escaped) spaces, lone surrogates U+FFFD, a leading # an _', () => {
  const names = ['x\ny', 'x\r\ny', '\tlead', '\0', 'del\x7f', '\x1b[31m', '\uD800', 'a\uDC00b', 'ok\uD83D\uDE00', '#c', '##', 'a#b', '\n#x']
  assert.equal(names.map(escapeMeasurement), [
    'x\\ y', 'x\\ \\ y', '\\ lead', '\\ ', 'del\\ ', '\\ [31m', '\uFFFD', 'a\uFFFDb', 'ok\uD83D\uDE00', '_c', '_#', 'a#b', '\\ #x',
  ])
  assert.is(escapeMeasurement('a\\\n'), 'a/\\ ', 'a backslash before a line break, which becomes a space')
})

test('escapeTag: commas, equals signs and spaces escaped; quotes kept; a backslash before them or at the end becomes /', () => {
  const texts = ['a=b', 'a,b', 'a b', 'say "hi"', "it's", 'a\\b', 'a\\=b', 'a\\,b', 'a\\ b', 'a\\', '#c', '']
  assert.equal(texts.map(escapeTag), [
    'a\\=b', 'a\\,b', 'a\\ b', 'say\\ "hi"', "it's", 'a\\b', 'a/\\=b', 'a/\\,b', 'a/\\ b', 'a/', '#c', '',
  ])
})

test('escapeTag: control characters become escaped spaces and lone surrogates U+FFFD, as in measurements', () => {
  const texts = ['line\nbreak', '\r', '\t\0', 'del\x7f', '\uDBFF', 'ok\uD83D\uDE00', 'a\\\n']
  assert.equal(texts.map(escapeTag), ['line\\ break', '\\ ', '\\ \\ ', 'del\\ ', '\uFFFD', 'ok\uD83D\uDE00', 'a/\\ '])
})

test('special characters in a metric name, a dimension key and value all escaped in the one line', () => {
  const g = group({ route: 'a b', method: 'GET', dimensions: { 'team=a': 'x,y z', 'q"': '"v"' } })
  assert.is(seriesToLines([counter(g, 'db query,x=1', [2])], '1'),
    'db\\ query\\,x=1,method=GET,q"="v",route=a\\ b,status_class=2xx,team\\=a=x\\,y\\ z count=1i,sum=2,min=2,max=2 1')
})

test('tags are sorted by their escaped key, by UTF-16 code unit: upper case, then \\ and _, then lower case', () => {
  const g = group({ dimensions: { zone: 'z', Env: 'e', 'a b': '1', a_b: '2', service: 's' } })
  assert.equal(keys(seriesToLines([counter(g, 'hits', [1])], '1')), [
    'hits,Env=e,a\\ b=1,a_b=2,method=GET,route=users.id,service=s,status_class=2xx,zone=z',
  ])
})

test('empty tags are left out: an empty dimension value or key, a process record\'s route and method, no status_class', () => {
  const process = group({ kind: 'process', route: '', method: '', status: 0, dimensions: { host: 'a', region: '', '': 'x' } })
  const request = group({ route: '', method: '', dimensions: { service: '' } })
  const text = seriesToLines([counter(process, 'jobs', [1]), counter(request, 'hits', [1])], '1')
  assert.equal(keys(text), ['jobs,host=a', 'hits,status_class=2xx'])
})

test('the app prefix is a prefix tag', () => {
  assert.equal(keys(seriesToLines([counter(group({ prefix: 'shop api' }), 'hits', [1])], '1')), [
    'hits,method=GET,prefix=shop\\ api,route=users.id,service=shop,status_class=2xx',
  ])
})

test('a dimension named route, method, prefix, time or status_class is not written; ours win', () => {
  const dimensions = { route: 'r', method: 'm', prefix: 'p', time: 't', status_class: '2xx', status: 'kept', Route: 'R' }
  assert.equal(keys(seriesToLines([counter(group({ status: 503, dimensions }), 'hits', [1])], '1')), [
    'hits,Route=R,method=GET,route=users.id,status=kept,status_class=5xx',
  ])
})

test('status_class of every kind of request; the exact status as status only with statusCode, on request series', () => {
  const groups = [
    group({ status: 101 }), group({ status: 302 }), group({ status: 404 }), group({ status: 0, aborted: true }),
    group({ status: 200, aborted: true }), group({ status: 0 }), group({ status: 700 }),
  ].map((g) => ({ ...g, dimensions: { status: 'dim' } }))
  const list = groups.map((g) => counter(g, 'hits', [1]))
  // Without the exact status, the two aborted groups are one point, and so are 0 and 700.
  const tags = ',method=GET,route=users.id,status=dim,status_class='
  assert.equal(seriesToLines(list, '1').split('\n'), [
    `hits${tags}1xx count=1i,sum=1,min=1,max=1 1`, `hits${tags}3xx count=1i,sum=1,min=1,max=1 1`,
    `hits${tags}4xx count=1i,sum=1,min=1,max=1 1`, `hits${tags}aborted count=2i,sum=2,min=1,max=1 1`,
    `hits${tags}other count=2i,sum=2,min=1,max=1 1`,
  ])
  const classes = ['1xx', '3xx', '4xx', 'aborted', 'aborted', 'other', 'other']
  const codes = ['101', '302', '404', '0', '200', '0', '700']
  assert.equal(keys(seriesToLines(list, '1', { statusCode: true })),
    classes.map((c, i) => `hits,method=GET,route=users.id,status=${codes[i]},status_class=${c}`))
})

test('statusCode leaves a dimension named status alone where there is no exact status: process series, a group without one', () => {
  // A group without a status (none decoded) is status 0 to the aggregate: class other.
  const process = group({ kind: 'process', route: '', method: '', status: 0, dimensions: { status: 'dim' } })
  const { status: _, ...noStatus } = group({ dimensions: { status: 'dim' } })
  assert.equal(keys(seriesToLines([counter(process, 'jobs', [1]), counter(noStatus, 'hits', [1])], '1', { statusCode: true })), [
    'jobs,status=dim', 'hits,method=GET,route=users.id,status=dim,status_class=other',
  ])
})

test('dimension keys that escape alike: the first is kept, counted once per entry as a name drop', () => {
  // 'k\n', 'k\r' and 'k ' all escape to 'k\ '; 'x\' and 'x/' both to 'x/'. The dictionary hands keys over sorted.
  const g = group({ dimensions: { 'k\n': 'a', 'k\r': 'b', 'k ': 'c', 'x/': 'd', 'x\\': 'e' } })
  const list = [counter(g, 'Failure', [0]), timer(g, 'RequestTime', [2])]
  let text = ''
  assert.is(nameDrops(() => { text = seriesToLines(list, '1') }), 3)
  assert.equal(keys(text), [
    'Failure,k\\ =a,method=GET,route=users.id,status_class=2xx,x/=d',
    'RequestTime,k\\ =a,method=GET,route=users.id,status_class=2xx,x/=d',
  ])
})

test('an entry rendered again (a retried write) is not counted again; another entry with the same collision is', () => {
  const g = group({ dimensions: { 'k\n': 'a', 'k\r': 'b' } })
  const list = [counter(g, 'hits', [1])]
  assert.is(nameDrops(() => { seriesToLines(list, '1'); seriesToLines(list, '1'); seriesToLines(list, '1', { statusCode: true }) }), 1)
  assert.is(nameDrops(() => { seriesToLines([...list], '1') }), 1)
})

test('series whose tags render alike are merged into one point, sketches on a copy, and that is no drop', () => {
  // An empty dimension value and a dimension named route leave no tag: three groups, one tag set.
  const a = group({ dimensions: { service: 'shop', empty: '' } })
  const b = group({ dimensions: { service: 'shop', route: 'ignored' } })
  const c = group()
  const list = [
    timer(a, 'RequestTime', [1, 16]), timer(b, 'RequestTime', [2]), timer(c, 'RequestTime', [4]),
    counter(a, 'hits', [1]), counter(b, 'hits', [2]),
  ]
  let text = ''
  assert.is(nameDrops(() => { text = seriesToLines(list, '1') }), 0)
  assert.equal(text.split('\n'), [
    'RequestTime,method=GET,route=users.id,service=shop,status_class=2xx count=4i,sum=23,min=1,max=16,' +
      'p50=1.9783399974932527,p90=3.9566799949865055,p99=3.9566799949865055,b0=1i,b32=1i,b64=1i,b128=1i 1',
    'hits,method=GET,route=users.id,service=shop,status_class=2xx count=2i,sum=3,min=1,max=2 1',
  ])
  assert.equal(list.slice(0, 3).map((s) => s.sketch!.count), [2, 1, 1], 'the series\' own sketches are untouched')
})

test('a timer point merged with a timer series without a sketch gets no quantile or bucket fields', () => {
  const a = group({ dimensions: {} })
  const b = group({ dimensions: { empty: '' } })
  assert.is(seriesToLines([timer(a, 'db', [2]), series(b, 'timer', 'db', [4], false)], '1'),
    'db,method=GET,route=users.id,status_class=2xx count=2i,sum=6,min=2,max=4 1')
})

test('different names that escape alike are merged into one point and counted as a name drop', () => {
  const g = group({ dimensions: {} })
  let text = ''
  assert.is(nameDrops(() => { text = seriesToLines([counter(g, 'a\nb', [1]), counter(g, 'a\rb', [2]), counter(g, 'a b', [3])], '1') }), 2)
  assert.is(text, 'a\\ b,method=GET,route=users.id,status_class=2xx count=3i,sum=6,min=1,max=3 1')
})

test('a counter with a timer\'s name and tags is written as <name>.counter, whichever came first', () => {
  const g = group({ dimensions: {} })
  const tags = ',method=GET,route=users.id,status_class=2xx'
  const timerLine = `db${tags} count=1i,sum=7,min=7,max=7,p50=7,p90=7,p99=7,b90=1i 1`
  const counterLine = `db.counter${tags} count=1i,sum=1,min=1,max=1 1`
  assert.equal(seriesToLines([timer(g, 'db', [7]), counter(g, 'db', [1])], '1').split('\n'), [timerLine, counterLine])
  assert.equal(seriesToLines([counter(g, 'db', [1]), timer(g, 'db', [7])], '1').split('\n'), [counterLine, timerLine])
  // A later counter of the same name and tags joins the moved one.
  assert.equal(seriesToLines([counter(g, 'db', [1]), timer(g, 'db', [7]), counter(g, 'db', [2])], '1').split('\n'), [
    `db.counter${tags} count=2i,sum=3,min=1,max=2 1`, timerLine,
  ])
})

test('a counter is never merged into a timer already named <name>.counter: it is left out and counted, in any order', () => {
  const g = group({ dimensions: {} })
  const tags = ',method=GET,route=users.id,status_class=2xx'
  const timerDb = `db${tags} count=1i,sum=7,min=7,max=7,p50=7,p90=7,p99=7,b90=1i 1`
  const timerDbCounter = `db.counter${tags} count=1i,sum=5,min=5,max=5,p50=5,p90=5,p99=5,b75=1i 1`
  const orders = [
    [timer(g, 'db.counter', [5]), counter(g, 'db', [1]), timer(g, 'db', [7])],
    [timer(g, 'db.counter', [5]), timer(g, 'db', [7]), counter(g, 'db', [1])],
    [counter(g, 'db', [1]), timer(g, 'db.counter', [5]), timer(g, 'db', [7])],
    [counter(g, 'db', [1]), timer(g, 'db', [7]), timer(g, 'db.counter', [5])],
  ]
  for (const list of orders) {
    let text = ''
    assert.is(nameDrops(() => { text = seriesToLines(list, '1') }), 1, list.map((x) => `${x.type} ${x.name}`).join(', '))
    assert.equal(text.split('\n').sort(), [timerDb, timerDbCounter].sort(), list.map((x) => `${x.type} ${x.name}`).join(', '))
  }
})

test('a counter and a timer of one name but different tags are two plain points', () => {
  const text = seriesToLines([counter(group({ dimensions: {} }), 'db', [1]), timer(group({ dimensions: { a: 'b' } }), 'db', [2])], '1')
  assert.equal(keys(text), ['db,method=GET,route=users.id,status_class=2xx', 'db,a=b,method=GET,route=users.id,status_class=2xx'])
})

test('a name that would pass for a standard metric is left out and counted; an empty name is left out', () => {
  const g = group({ dimensions: {} })
  const list = [
    counter(g, 'Failure', [0]), counter(g, '.Failure', [1]), timer(g, 'Failure', [5]), timer(g, 'RequestTime', [2]),
    timer(g, 'RequestTime.', [9]), counter(g, 'RequestTime', [1]), counter(g, '', [1]), counter(g, 'Failure.rate', [1]),
  ]
  let text = ''
  assert.is(nameDrops(() => { text = seriesToLines(list, '1') }), 4)
  assert.equal(keys(text).map((k) => k.split(',')[0]), ['Failure', 'RequestTime', 'Failure.rate'])
})

/** The columns and row of `SELECT sum(*)` over the points of these sketches. */
function sums(...sketches: Sketch[]): { columns: string[], row: number[] } {
  const totals = new Map<string, number>()
  for (const s of sketches) {
    if (s.zero > 0) totals.set('sum_zero', (totals.get('sum_zero') ?? 0) + s.zero)
    s.forEachBucket((k, n, negative) => {
      const column = `sum_${negative ? 'nb' : 'b'}${k}`
      totals.set(column, (totals.get(column) ?? 0) + n)
    })
  }
  return { columns: ['time', 'sum_count', ...totals.keys()], row: [0, 99, ...totals.values()] }
}

/** Bucket k's value as the README's client code computes it. */
const mid = (k: number): number => (2 * 2 ** (k / 32)) / (1 + 2 ** (1 / 32))

test('quantileFromSums reads the value of rank ⌊q·(n−1)⌋ off summed buckets, negatives and zeros in value order', () => {
  const a = new Sketch()
  for (const v of [-2, 0, 1, 2]) a.add(v)
  const b = new Sketch()
  for (const v of [2, 4, 0.5]) b.add(v)
  const { columns, row } = sums(a, b)
  // Sorted: -2, 0, 0.5, 1, 2, 2, 4 (buckets nb32, zero, b-32, b0, b32, b32, b64).
  const expected = [-mid(32), 0, mid(-32), mid(0), mid(32), mid(32), mid(64)]
  assert.equal([0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1].map((q) => quantileFromSums(columns, row, q)), expected)
  assert.is(quantileFromSums(columns, row, 0.99), mid(32), 'rank ⌊0.99 · 6⌋ = 5')
})

test('quantileFromSums ignores columns that are not bucket sums, and counts that are not positive numbers', () => {
  const columns = ['time', 'sum_count', 'sum_sum', 'sum_p99', 'b5', 'sum_b', 'sum_bx', 'sum_b5x', 'sum_b3', 'sum_b7', 'sum_b9', 'sum_nb1']
  const row: unknown[] = [0, 1000, 1e9, 1e9, 1000, 1000, 1000, 1000, 2, null, '5', -3]
  assert.is(quantileFromSums(columns, row, 1), mid(3))
})

test('quantileFromSums is NaN with no counts or a q outside 0…1', () => {
  assert.ok(Number.isNaN(quantileFromSums(['time', 'sum_count'], [0, 0], 0.5)), 'no bucket columns')
  assert.ok(Number.isNaN(quantileFromSums(['sum_b3'], [0], 0.5)), 'a zero count')
  for (const q of [-0.01, 1.01, NaN]) assert.ok(Number.isNaN(quantileFromSums(['sum_b3'], [4], q)), String(q))
})

test.run()
