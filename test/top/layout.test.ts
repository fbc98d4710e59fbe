import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { painter, useColour } from '../../src/top/ansi.js'
import { formatMs, formatPct, formatRate, formatWindow } from '../../src/top/format.js'
import { layout, type View } from '../../src/top/layout.js'
import { shortenMiddle } from '../../src/top/line.js'
import type { RouteRow, Snapshot } from '../../src/top/snapshot.js'
import { sparkline } from '../../src/top/sparkline.js'

const RAMP = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]

function row(route: string, fields: Partial<RouteRow> = {}): RouteRow {
  return {
    route, method: 'GET', requests: 600, rps: 10, p50: 2.5, p99: 40, cpuMean: 0.8, cpuShare: 10,
    failurePct: 0, clientErrorPct: 0, abortedPct: 0, spark: RAMP, ...fields,
  }
}

function snapshot(fields: Partial<Snapshot> = {}): Snapshot {
  return {
    at: 1_700_000_000_000, windowMs: 60_000, ratesOverMs: 60_000, stream: 'routemeter', state: 'up', empty: false, entries: 1200,
    totals: { requests: 50_000, rps: 833.3, failurePct: 0.4, clientErrorPct: 2.1, abortedPct: 0, cpuMs: 21_000 },
    processes: 3, lag: 0, streamLength: 10_000, dropped: {}, sort: 'rps',
    routes: [
      row('/api/v1/customers/:id/orders/:orderId/items/:itemId/history', { rps: 512.3, failurePct: 7.2 }),
      row('/products/:id', { method: 'POST', rps: 200, p99: 1234.5, clientErrorPct: 3, cpuShare: 62.5 }),
      row('/report', { rps: 35.25, p50: 120, p99: 15_800, cpuMean: 55.5, abortedPct: 0.01 }),
      row('/health', { rps: 0.02, p50: undefined, p99: undefined, cpuMean: undefined, cpuShare: 0, spark: [0, 0, 1, 0] }),
    ],
    ...fields,
  }
}

const view = (width: number, height: number, fields: Partial<View> = {}): View =>
  ({ width, height, colour: false, filter: '', editing: undefined, ...fields })

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g

const t = suite('top layout')

t('a 120×30 terminal shows the header, every column, the long route in 34 columns, an 8 s sparkline, and the footer last', () => {
  const lines = layout(snapshot(), view(120, 30))
  assert.is(lines.length, 30)
  assert.equal(lines.slice(0, 9), [
    'routemeter top · stream routemeter · up · window 1m',
    '833 req/s · Fail 0.4% · 4xx 2.1% · Abort 0 · CPU 0.35 cores',
    'processes 3 · lag 0 · stream length 10,000',
    '',
    'route                               method    req/s  p50 ms  p99 ms  CPU ms/req  CPU %  Fail %  4xx %  Abort %  last 8 s',
    '/api/v1/customer…s/:itemId/history  GET         512    2.50    40.0        0.80   10.0     7.2      0        0  ▇▇▇▇████',
    '/products/:id                       POST        200    2.50    1235        0.80   62.5       0    3.0        0  ▇▇▇▇████',
    '/report                             GET        35.3     120   15.8s        55.5   10.0       0      0     <0.1  ▇▇▇▇████',
    '/health                             GET        0.02       –       –           –      0       0      0        0        █',
  ])
  assert.equal(lines.slice(9, 29), Array(20).fill(''))
  assert.is(lines[29], 's sort (rps) · / filter · q quit')
  for (const line of lines) assert.ok(line.length <= 120, line)
})

t('a 60×15 terminal drops columns from the right (sparkline, Abort, 4xx, Fail, CPU %) and wraps the header at its dots', () => {
  const lines = layout(snapshot({ dropped: { queueFull: 12, 'payload-too-large': 1 } }), view(60, 15))
  assert.equal(lines, [
    'routemeter top · stream routemeter · up · window 1m',
    '833 req/s · Fail 0.4% · 4xx 2.1% · Abort 0 · CPU 0.35 cores',
    'processes 3 · lag 0 · stream length 10,000',
    'dropped payload-too-large 1 · dropped queueFull 12',
    '',
    'route            method    req/s  p50 ms  p99 ms  CPU ms/req',
    '/api/v1…history  GET         512    2.50    40.0        0.80',
    '/products/:id    POST        200    2.50    1235        0.80',
    '/report          GET        35.3     120   15.8s        55.5',
    '/health          GET        0.02       –       –           –',
    '', '', '', '',
    's sort (rps) · / filter · q quit',
  ])
})

t('names from the stream reach the screen without their control characters: no forged row, no escape sequence', () => {
  const routes = [
    row('evil\nFAKE-ROW  GET  999999', { method: 'G\x1b[2JET' }),
    row('\x1b]0;owned\x07x\ud800', { rps: 1 }),
  ]
  const lines = layout(snapshot({ routes, dropped: { 'x\ry': 1 } }), view(80, 12))
  assert.is(lines.length, 12)
  for (const line of lines) {
    // eslint-disable-next-line no-control-regex
    assert.not.match(line, /[\0-\x1f\x7f-\x9f]|[\uD800-\uDFFF]/u, JSON.stringify(line))
  }
  assert.ok(lines.some((line) => /^evil\ufffdF…999999 +G\ufffd\[2JET /.test(line)), lines.join('\n'))
  assert.ok(lines.some((line) => line.includes('dropped x\ufffdy 1')), lines.join('\n'))
})

t('a 32×14 terminal keeps route, req/s and p99 and nothing else, and wraps the header into more lines', () => {
  assert.equal(layout(snapshot(), view(32, 14)), [
    'routemeter top',
    'stream routemeter · up',
    'window 1m',
    '833 req/s · Fail 0.4% · 4xx 2.1%',
    'Abort 0 · CPU 0.35 cores',
    'processes 3 · lag 0',
    'stream length 10,000',
    '',
    'route              req/s  p99 ms',
    '/api/v1…/history     512    40.0',
    '/products/:id        200    1235',
    '/report             35.3   15.8s',
    '/health             0.02       –',
    's sort (rps) · / filter · q quit',
  ])
})

t('with room to spare, the sparkline takes what the route names leave, up to its history', () => {
  const routes = [row('/products/:id', { spark: RAMP.slice(0, 12) }), row('/a', { spark: [3] })]
  assert.equal(layout(snapshot({ routes }), view(120, 8)).slice(4, 7), [
    'route          method    req/s  p50 ms  p99 ms  CPU ms/req  CPU %  Fail %  4xx %  Abort %  last 12 s',
    '/products/:id  GET        10.0    2.50    40.0        0.80   10.0       0      0        0   ▁▂▃▃▄▅▆▆▇██',
    '/a             GET        10.0    2.50    40.0        0.80   10.0       0      0        0             █',
  ])
})

t('more routes than rows: the last row says how many are left out', () => {
  const routes = Array.from({ length: 1500 }, (_, i) => row(`/r/${i}`, { rps: 1500 - i, spark: [] }))
  const lines = layout(snapshot({ routes }), view(80, 12))
  assert.equal(lines.slice(4), [
    'route  method    req/s  p50 ms  p99 ms  CPU ms/req  CPU %  Fail %  4xx %',
    '/r/0   GET       1,500    2.50    40.0        0.80   10.0       0      0',
    '/r/1   GET       1,499    2.50    40.0        0.80   10.0       0      0',
    '/r/2   GET       1,498    2.50    40.0        0.80   10.0       0      0',
    '/r/3   GET       1,497    2.50    40.0        0.80   10.0       0      0',
    '/r/4   GET       1,496    2.50    40.0        0.80   10.0       0      0',
    '… and 1,495 more routes',
    's sort (rps) · / filter · q quit',
  ])
})

t('exactly as many routes as rows: all shown, no "more" line', () => {
  const routes = Array.from({ length: 6 }, (_, i) => row(`/r/${i}`, { spark: [] }))
  const lines = layout(snapshot({ routes }), view(80, 12))
  assert.equal(lines.slice(5, 11), routes.map((r) => `${r.route}   GET        10.0    2.50    40.0        0.80   10.0       0      0`))
  // One more route takes the place of the last row and the count: never "… and 1 more".
  const seven = layout(snapshot({ routes: [...routes, row('/r/6', { spark: [] })] }), view(80, 12))
  assert.equal(seven.slice(9, 11), [`/r/4   GET        10.0    2.50    40.0        0.80   10.0       0      0`, '… and 2 more routes'])
})

t('a stream with no entries yet says so in place of the table', () => {
  const lines = layout(snapshot({ empty: true, routes: [], entries: 0, streamLength: 0 }), view(100, 10))
  assert.equal(lines.slice(3, 5), ['', 'no entries in routemeter yet (waiting…)'])
  assert.is(lines[9], 's sort (rps) · / filter · q quit')
})

t('the header shows reconnecting, and unknown lag, length and process count as –', () => {
  const lines = layout(snapshot({ state: 'reconnecting', lag: undefined, streamLength: undefined, processes: undefined }), view(120, 12))
  assert.is(lines[0], 'routemeter top · stream routemeter · reconnecting… · window 1m')
  assert.is(lines[2], 'processes – · lag – · stream length –')
  const connecting = layout(snapshot({ state: 'connecting', windowMs: 10_000 }), view(120, 12))
  assert.is(connecting[0], 'routemeter top · stream routemeter · connecting… · window 10s')
})

t('why the reader is not up, and entries it could not decode, are in the header', () => {
  const lines = layout(snapshot({ state: 'reconnecting', lastError: 'connect ECONNREFUSED 127.0.0.1:6390', unreadable: 2 }), view(120, 12))
  assert.is(lines[0], 'routemeter top · stream routemeter · reconnecting… (connect ECONNREFUSED 127.0.0.1:6390) · window 1m')
  assert.is(lines[2], 'processes 3 · lag 0 · stream length 10,000 · unreadable entries 2')
  assert.is(layout(snapshot({ unreadable: 0 }), view(120, 12))[2], 'processes 3 · lag 0 · stream length 10,000')
})

t('the filter keeps the routes whose name contains it, ignoring case, and the footer counts them', () => {
  const lines = layout(snapshot(), view(100, 10, { filter: 'PRO' }))
  assert.equal(lines.slice(4, 7), [
    'route          method    req/s  p50 ms  p99 ms  CPU ms/req  CPU %  Fail %  4xx %  Abort %  last 9 s',
    '/products/:id  POST        200    2.50    1235        0.80   62.5       0    3.0        0  ▆▇▇▇▇████',
    '',
  ])
  assert.is(lines[9], 's sort (rps) · / filter "PRO": 1 route · Esc clear · q quit')
})

t('while typing a filter the table follows the text typed so far, and the footer shows it', () => {
  const lines = layout(snapshot(), view(100, 10, { filter: 'pro', editing: 'rep' }))
  assert.is(lines[5]?.slice(0, 7), '/report')
  assert.is(lines[6], '')
  assert.is(lines[9], 'filter: rep_   Enter apply · Esc cancel')
})

t('a filter that matches nothing says so', () => {
  assert.is(layout(snapshot(), view(100, 10, { filter: 'nope' }))[4], 'no route matches "nope"')
})

t('a 30×8 terminal gives up header lines for a heading and the count, and cuts the footer', () => {
  assert.equal(layout(snapshot(), view(30, 8)), [
    'routemeter top',
    'stream routemeter · up',
    'window 1m',
    '833 req/s · Fail 0.4%',
    '',
    'route  method    req/s  p99 ms',
    '… and 4 more routes',
    's sort (rps) · / filter · q qu',
  ])
})

t('without colour there is no escape code anywhere', () => {
  const lines = layout(snapshot({ state: 'reconnecting', dropped: { queueFull: 1 } }), view(120, 30, { editing: 'x' }))
  for (const line of lines) assert.is(line.includes('\x1b'), false, line)
})

t('with colour: bold header, red for a high failure rate, yellow for 4xx, dim zeros; the plain text is the same', () => {
  const s = snapshot()
  const coloured = layout(s, view(120, 30, { colour: true }))
  assert.equal(coloured.map((line) => line.replace(ANSI, '')), layout(s, view(120, 30)))
  assert.ok(coloured[0]!.startsWith('\x1b[1mroutemeter top\x1b[0m'), coloured[0])
  assert.ok(coloured[5]!.includes('\x1b[1;31m   7.2\x1b[0m'), coloured[5])
  assert.ok(coloured[6]!.includes('\x1b[33m  3.0\x1b[0m'), coloured[6])
  assert.ok(coloured[6]!.includes('\x1b[2m     0\x1b[0m'), coloured[6])
  assert.ok(coloured[0]!.includes('\x1b[32mup\x1b[0m'), coloured[0])
})

t('thousands of routes: a frame formats only the rows on screen', () => {
  const routes = Array.from({ length: 50_000 }, (_, i) => row(`/r/${i}`))
  let formatted = 0
  const counting = routes.map((r) => new Proxy(r, {
    get: (target, key) => { if (key === 'p50') formatted++; return Reflect.get(target, key) },
  }))
  const lines = layout(snapshot({ routes: counting }), view(120, 40))
  // 40 lines: 3 of header, a blank, the heading, 33 rows, the count, the footer.
  assert.is(formatted, 33)
  assert.is(lines[38], '… and 49,967 more routes')
})

t.run()

const pieces = suite('top layout pieces')

pieces('sparkline: scaled to the row\'s own peak, blanks for idle seconds, the newest in the last column', () => {
  assert.is(sparkline([0, 1, 2, 4, 8], 5), ' ▁▂▄█')
  assert.is(sparkline([5, 5], 4), '  ██')
  assert.is(sparkline([1000, 1, 0], 3), '█▁ ')
  assert.is(sparkline([0, 0, 0], 3), '   ')
  assert.is(sparkline([1, 2, 3, 4, 5, 6, 7, 8], 3), '▆▇█')
  assert.is(sparkline([1, 2], 0), '')
})

pieces('shortenMiddle: keeps the start and the (longer) end, never wraps', () => {
  assert.is(shortenMiddle('/api/v1/customers/:id/orders', 15), '/api/v1…/orders')
  assert.is(shortenMiddle('/api/v1/customers/:id/orders', 16), '/api/v1…d/orders')
  assert.is(shortenMiddle('/short', 6), '/short')
  assert.is(shortenMiddle('/abc', 1), '…')
  assert.is(shortenMiddle('/abc', 0), '')
  assert.is(shortenMiddle('/ü/😀/😀/x', 6), '/ü…😀/x')
})

pieces('numbers keep to their columns', () => {
  assert.equal([0, 0.0167, 3.14159, 99.94, 1234.4, 99_999, 250_000].map(formatRate),
    ['0', '0.02', '3.1', '99.9', '1,234', '99,999', '250k'])
  assert.equal([undefined, 0.347, 12.34, 999.6, 9999.4, 12_345, 123_456].map(formatMs),
    ['–', '0.35', '12.3', '1000', '9999', '12.3s', '123s'])
  assert.equal([0, 0.01, 0.05, 2.345, 100].map(formatPct), ['0', '<0.1', '0.1', '2.3', '100.0'])
  assert.equal([10_000, 60_000, 300_000].map(formatWindow), ['10s', '1m', '5m'])
})

pieces('colour only on a terminal and without a non-empty NO_COLOR', () => {
  assert.is(useColour({ isTTY: true }, {}), true)
  assert.is(useColour({ isTTY: true }, { NO_COLOR: '' }), true)
  assert.is(useColour({ isTTY: true }, { NO_COLOR: '1' }), false)
  assert.is(useColour({ isTTY: false }, {}), false)
  assert.is(useColour({}, {}), false)
  assert.is(painter(false)('x', 'red'), 'x')
  assert.is(painter(true)('x', 'red'), '\x1b[31mx\x1b[0m')
  assert.is(painter(true)('x', undefined), 'x')
})

pieces.run()
