/**
 * The window behind `routemeter top`, without Redis: entries with known requests at known times in, exact
 * snapshots out (counts, rates, percentages, CPU shares, quantiles equal to those of the merged sketches,
 * sparklines), and what time does to them (expiry), the route cap, drops, producers and sort orders.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { Sketch } from '../../src/wire/sketch.js'
import { decodeEntry, encodeBatch, type DecodedBatch } from '../../src/wire/stream-encoding.js'
import { MAX_CARRY_MS, OTHER_ROUTES, TopWindow, windowShape, type SnapshotContext } from '../../src/top/window.js'
import type { RouteRow, Snapshot, SortKey } from '../../src/top/snapshot.js'

/** A whole minute, so slots of 1 s and of 5 s both start on it. */
const T0 = 1_763_798_400_000

interface Mix {
  route: string
  method?: string
  n: number
  status?: number
  time?: (i: number) => number
  cpu?: number
  aborted?: boolean
}

function records(...mixes: Mix[]): MetricRecord[] {
  return mixes.flatMap(({ route, method = 'GET', n, status = 200, time = () => 2, cpu, aborted = false }) =>
    Array.from({ length: n }, (_, i): MetricRecord => ({
      kind: 'request', prefix: '', route, method, status, aborted, dimensions: {},
      counters: { Failure: status >= 500 ? 1 : 0, ClientError: status >= 400 && status < 500 ? 1 : 0, Aborted: aborted ? 1 : 0 },
      timers: cpu === undefined ? { RequestTime: time(i) } : { RequestTime: time(i), CpuTime: cpu },
      timestamp: T0,
    })))
}

function processRecord(counters: Record<string, number>): MetricRecord {
  return {
    kind: 'process', prefix: '', route: '', method: '', status: 0, aborted: false, dimensions: {}, counters, timers: {}, timestamp: T0,
  }
}

/** `batch` as `top` reads it from the stream: encoded into one entry and decoded. */
function entry(batch: MetricRecord[], version?: 1 | 2): DecodedBatch {
  const { entries } = encodeBatch(batch, undefined, version === undefined ? undefined : { version })
  assert.is(entries.length, 1)
  return decodeEntry(entries[0].v, entries[0].p)
}

const context: SnapshotContext = { sort: 'rps', state: 'up', stream: 'routemeter' }

function row(snapshot: Snapshot, route: string, method = 'GET'): RouteRow {
  const found = snapshot.routes.find((r) => r.route === route && r.method === method)
  const all = snapshot.routes.map((r) => `${r.method} ${r.route}`).join(', ')
  if (found === undefined) throw new Error(`no row ${method} ${route} in ${all}`)
  return found
}

const names = (snapshot: Snapshot): string[] => snapshot.routes.map((r) => r.route)

test('windowShape: a slot per second up to a minute, 60 slots beyond, the sparkline inside the window', () => {
  assert.equal(windowShape(5_000), { slotSeconds: 1, slots: 5, windowMs: 5_000, sparkSeconds: 4 })
  assert.equal(windowShape(10_000), { slotSeconds: 1, slots: 10, windowMs: 10_000, sparkSeconds: 9 })
  assert.equal(windowShape(60_000), { slotSeconds: 1, slots: 60, windowMs: 60_000, sparkSeconds: 30 })
  assert.equal(windowShape(61_000), { slotSeconds: 2, slots: 31, windowMs: 62_000, sparkSeconds: 30 })
  assert.equal(windowShape(300_000), { slotSeconds: 5, slots: 60, windowMs: 300_000, sparkSeconds: 30 })
  assert.equal(windowShape(900_000), { slotSeconds: 15, slots: 60, windowMs: 900_000, sparkSeconds: 30 })
})

test('counts, rates, percentages and CPU shares over the window are exact', () => {
  const w = new TopWindow({ windowMs: 60_000 })
  w.streamBegins(T0 - 3_600_000, undefined, T0)
  w.add(T0 + 500, entry(records(
    { route: 'users.id', n: 30, cpu: 0.5 },
    { route: 'orders', method: 'POST', n: 10, status: 500, cpu: 0.75 },
    { route: 'missing', n: 5, status: 404, cpu: 0.5 },
  )), undefined, T0 + 600)
  w.add(T0 + 1_500, entry(records({ route: 'users.id', n: 30, cpu: 0.5 }, { route: 'users.id', n: 4, status: 0, aborted: true, cpu: 0.5 })),
    undefined, T0 + 1_600)
  const s = w.snapshot(T0 + 2_500, context)
  assert.is(s.at, T0 + 2_500)
  assert.is(s.windowMs, 60_000)
  assert.is(s.entries, 2)
  assert.is(s.empty, false)
  assert.equal(s.totals, { requests: 79, rps: 79 / 59, failurePct: 1000 / 79, clientErrorPct: 500 / 79, abortedPct: 400 / 79, cpuMs: 42 })
  const users = row(s, 'users.id')
  assert.equal([users.requests, users.rps, users.failurePct, users.clientErrorPct, users.abortedPct], [64, 64 / 59, 0, 0, 400 / 64])
  assert.equal([users.cpuMean, users.cpuShare], [0.5, 3200 / 42])
  const orders = row(s, 'orders', 'POST')
  assert.equal([orders.requests, orders.rps, orders.failurePct, orders.clientErrorPct, orders.cpuMean, orders.cpuShare],
    [10, 10 / 59, 100, 0, 0.75, 750 / 42])
  const missing = row(s, 'missing')
  assert.equal([missing.requests, missing.failurePct, missing.clientErrorPct, missing.cpuShare], [5, 0, 100, 250 / 42])
  assert.equal(names(s), ['users.id', 'orders', 'missing'])
  assert.is(s.processes, undefined)
  assert.equal(s.dropped, {})
  assert.is(s.unreadable, undefined)
})

test('rates: a stream older than the window over its complete slots; a younger one over the time since it began', () => {
  // Entries at 0.3 s, 1.3 s, … each carrying the second before it, as an app flushing every second writes them.
  const w = new TopWindow({ windowMs: 10_000 })
  const steady = (at: number, n = 100): void => {
    w.add(at, entry(records({ route: 'r', n }).map((r) => ({ ...r, timestamp: at - 1000 }))), undefined, at)
  }
  for (let i = 0; i <= 5; i++) steady(T0 + i * 1000 + 300)
  // Young: all 600 requests, from the earliest (at −0.7 s) to now.
  const young = w.snapshot(T0 + 5_500, context)
  assert.equal([young.ratesOverMs, young.totals.requests, young.totals.rps, row(young, 'r').rps], [6_200, 600, 600 / 6.2, 600 / 6.2])
  for (let i = 6; i <= 20; i++) steady(T0 + i * 1000 + 300)
  // Older than the window (slots 11…20 at 20.5 s): slots 11…19 count, the 20th is in progress.
  const old = w.snapshot(T0 + 20_500, context)
  assert.equal([old.ratesOverMs, old.totals.requests, old.totals.rps], [9_000, 1_000, 100])
  // Before a second has passed: over a second.
  const fresh = new TopWindow({ windowMs: 60_000 })
  fresh.add(T0 + 10, entry(records({ route: 'r', n: 7 })), undefined, T0 + 10)
  assert.equal([fresh.snapshot(T0 + 20, context).ratesOverMs, fresh.snapshot(T0 + 20, context).totals.rps], [1_000, 7])
  // Told of a stream older than the window (the reader asks Redis): complete slots from the start, the old entries long trimmed.
  const told = new TopWindow({ windowMs: 300_000 })
  told.streamBegins(T0 - 3_600_000, undefined, T0)
  told.add(T0 + 299_000, entry(records({ route: 'r', n: 59 })), undefined, T0 + 299_000)
  assert.equal([told.snapshot(T0 + 300_000, context).ratesOverMs, told.snapshot(T0 + 300_000, context).totals.rps], [295_000, 59 / 295])
  // Nothing yet.
  assert.equal([new TopWindow({ windowMs: 10_000 }).snapshot(T0, context).totals.rps], [0])
})

test('a young stream stays young when an entry\'s earliest record is far older than its requests', () => {
  // A process record's interval, a long request, an app clock behind: its start is read as at most MAX_CARRY_MS before the stamp.
  const w = new TopWindow({ windowMs: 60_000 })
  const stale = { ...processRecord({ 'jobs.done': 1 }), timestamp: T0 - 600_000 }
  for (let i = 1; i <= 10; i++) {
    w.add(T0 + i * 1000, entry([...records({ route: 'r', n: 100 }), ...(i === 5 ? [stale] : [])]), undefined, T0 + i * 1000)
  }
  const s = w.snapshot(T0 + 10_000, context)
  // The first entry's requests start at T0 (records() stamps them so); the stale record moved nothing (else: 59 s).
  assert.equal([s.ratesOverMs, s.totals.requests, s.totals.rps], [10_000, 1_000, 100])
  // Its start alone, as the stream's first entry: MAX_CARRY_MS before its stamp.
  const alone = new TopWindow({ windowMs: 60_000 })
  alone.add(T0 + 5_000, entry([stale]), undefined, T0 + 5_000)
  assert.is(alone.snapshot(T0 + 6_000, context).ratesOverMs, 1_000 + MAX_CARRY_MS)
  // Stamped ahead of our clock (Redis's TIME unread, a Cluster): the start is now at the latest.
  const ahead = new TopWindow({ windowMs: 60_000 })
  ahead.add(T0 + 5_000, entry(records({ route: 'r', n: 10 }).map((r) => ({ ...r, timestamp: T0 + 4_000 }))), undefined, T0)
  assert.equal(ahead.snapshot(T0 + 2_000, context).ratesOverMs, 2_000)
  // An entry without a start (t = 0, or unreadable to the reader): its stamp less a flush interval.
  const unknown = new TopWindow({ windowMs: 60_000 })
  unknown.streamBegins(T0 + 3_000, undefined, T0 + 3_000)
  assert.equal(unknown.snapshot(T0 + 5_000, context).ratesOverMs, 3_000)
})

test('p50 and p99 are those of one sketch holding every value of the window, whatever the entries', () => {
  const w = new TopWindow({ windowMs: 60_000 })
  const reference = new Sketch()
  for (let e = 0; e < 6; e++) {
    const time = (i: number): number => 0.3 + ((i * 7919 + e * 104729) % 1000) / 10
    const batch = records({ route: 'search', n: 200, time })
    for (let i = 0; i < 200; i++) reference.add(time(i))
    w.add(T0 + e * 1_000 + 100, entry(batch), undefined, T0 + e * 1_000 + 200)
  }
  const search = row(w.snapshot(T0 + 6_000, context), 'search')
  assert.is(search.requests, 1200)
  assert.is(search.p50, reference.quantile(0.5))
  assert.is(search.p99, reference.quantile(0.99))
  assert.is(search.cpuMean, undefined, 'no CpuTime recorded (cpu: false)')
  assert.is(search.cpuShare, 0)
})

test('a v=1 entry counts exactly as the v=2 entry of the same records', () => {
  const batch = [
    ...records({ route: 'a', n: 7, time: (i) => 1 + i, cpu: 0.25 }),
    ...records({ route: 'b', method: 'PUT', n: 3, status: 503, time: (i) => 40 * (i + 1) }),
    processRecord({ 'routemeter.dropped.value': 2 }),
  ]
  const snapshots = ([1, 2] as const).map((version) => {
    const w = new TopWindow({ windowMs: 10_000 })
    w.add(T0 + 200, entry(batch, version), 'host:1', T0 + 300)
    return w.snapshot(T0 + 1_200, context)
  })
  assert.equal(snapshots[0], snapshots[1])
  assert.equal(row(snapshots[0], 'a').spark, [0, 0, 0, 0, 0, 0, 0, 0, 7])
  assert.equal(snapshots[0].dropped, { value: 2 })
})

test('the sparkline: requests per second over the complete seconds before the current one, oldest first', () => {
  const w = new TopWindow({ windowMs: 10_000 })
  w.add(T0 + 100, entry(records({ route: 'r', n: 3 })), undefined, T0 + 100)
  w.add(T0 + 2_900, entry(records({ route: 'r', n: 5 })), undefined, T0 + 2_950)
  w.add(T0 + 2_990, entry(records({ route: 'r', n: 1 })), undefined, T0 + 3_000)
  w.add(T0 + 9_100, entry(records({ route: 'r', n: 8 })), undefined, T0 + 9_200)
  const s = w.snapshot(T0 + 9_500, context)
  assert.equal(row(s, 'r').spark, [3, 0, 6, 0, 0, 0, 0, 0, 0], 'the second in progress (8 requests) is not in it')
  assert.is(row(s, 'r').requests, 17)
  assert.equal(row(w.snapshot(T0 + 10_000, context), 'r').spark, [0, 6, 0, 0, 0, 0, 0, 0, 8])
})

test('slots older than the window expire, and their values leave the quantiles', () => {
  const w = new TopWindow({ windowMs: 10_000 })
  w.add(T0 + 400, entry(records({ route: 'r', n: 10, time: () => 100, cpu: 1 })), undefined, T0 + 500)
  w.add(T0 + 5_400, entry(records({ route: 'r', n: 20, time: (i) => 1 + i / 100, cpu: 0.5 })), undefined, T0 + 5_500)
  const all = new Sketch()
  const later = new Sketch()
  for (let i = 0; i < 10; i++) all.add(100)
  for (let i = 0; i < 20; i++) { all.add(1 + i / 100); later.add(1 + i / 100) }
  const before = row(w.snapshot(T0 + 9_999, context), 'r')
  assert.equal([before.requests, before.p50, before.p99, before.cpuMean], [30, all.quantile(0.5), all.quantile(0.99), 20 / 30])
  const after = w.snapshot(T0 + 10_000, context)
  assert.equal([row(after, 'r').requests, row(after, 'r').p50, row(after, 'r').p99, row(after, 'r').cpuMean],
    [20, later.quantile(0.5), later.quantile(0.99), 0.5])
  assert.is(after.entries, 1)
  const gone = w.snapshot(T0 + 15_000, context)
  assert.equal([gone.empty, gone.entries, gone.routes.length, gone.totals.requests, gone.totals.rps], [true, 0, 0, 0, 0])
  assert.is(w.routeCount, 0)
})

test('a 5-minute window moves in 5 s slots: an entry counts until its whole slot is older than the window', () => {
  const w = new TopWindow({ windowMs: 300_000 })
  w.streamBegins(T0 - 3_600_000, undefined, T0)
  w.add(T0 + 4_900, entry(records({ route: 'r', n: 3 })), undefined, T0 + 5_000)
  assert.is(row(w.snapshot(T0 + 299_999, context), 'r').rps, 3 / 295)
  assert.is(w.snapshot(T0 + 300_000, context).routes.length, 0)
})

test('an entry older than the window is left out; one stamped after now counts as of now', () => {
  const w = new TopWindow({ windowMs: 10_000 })
  assert.is(w.startMs(T0 + 20_500), T0 + 11_000)
  assert.is(w.add(T0 + 10_999, entry(records({ route: 'old', n: 1 })), undefined, T0 + 20_500), false)
  assert.is(w.add(T0 + 11_000, entry(records({ route: 'edge', n: 1 })), undefined, T0 + 20_500), true)
  assert.is(w.add(T0 + 99_000, entry(records({ route: 'ahead', n: 2 })), undefined, T0 + 20_500), true)
  const s = w.snapshot(T0 + 20_900, context)
  assert.equal(s.routes.map((r) => [r.route, r.requests]), [['edge', 1], ['ahead', 2]], 'ahead is in the second in progress: no rate yet')
  assert.equal(row(w.snapshot(T0 + 21_000, context), 'ahead').spark, [0, 0, 0, 0, 0, 0, 0, 0, 2], 'counted in second 20')
})

test('past maxRoutes, further routes are counted in one row, always last; the cap frees once routes go idle', () => {
  const w = new TopWindow({ windowMs: 10_000, maxRoutes: 2 })
  w.add(T0, entry(records({ route: 'a', n: 1 }, { route: 'b', n: 2 }, { route: 'c', n: 30 }, { route: 'd', n: 40 })), undefined, T0)
  const s = w.snapshot(T0 + 500, context)
  assert.equal(s.routes.map((r) => [r.route, r.method, r.requests]), [['b', 'GET', 2], ['a', 'GET', 1], [OTHER_ROUTES, '', 70]])
  assert.is(s.totals.requests, 73)
  assert.is(w.routeCount, 2)
  w.add(T0 + 10_000, entry(records({ route: 'c', n: 3 })), undefined, T0 + 10_000)
  assert.equal(w.snapshot(T0 + 10_000, context).routes.map((r) => [r.route, r.requests]), [['c', 3]])
})

test('process records are not routes: their routemeter.dropped.<reason> counters add up over the window', () => {
  const w = new TopWindow({ windowMs: 10_000 })
  w.add(T0 + 100, entry([...records({ route: 'r', n: 1 }), processRecord({ 'routemeter.dropped.backlog': 7, 'jobs.done': 3 })]),
    undefined, T0 + 100)
  w.add(T0 + 1_100, entry([processRecord({ 'routemeter.dropped.backlog': 3, 'routemeter.dropped.value': 2 })]), undefined, T0 + 1_100)
  const s = w.snapshot(T0 + 2_000, context)
  assert.equal(s.dropped, { backlog: 10, value: 2 })
  assert.equal(names(s), ['r'])
  assert.is(s.totals.requests, 1)
  assert.equal(w.snapshot(T0 + 10_100, context).dropped, { backlog: 3, value: 2 })
})

test('processes: distinct producers (`s`) of the window\'s entries; unreadable entries are counted, not fatal', () => {
  const w = new TopWindow({ windowMs: 10_000 })
  const batch = entry(records({ route: 'r', n: 1 }))
  w.add(T0, batch, 'web-1:100', T0)
  w.add(T0 + 1_000, batch, 'web-1:100', T0 + 1_000)
  w.add(T0 + 1_000, batch, 'web-2:100', T0 + 1_000)
  w.add(T0 + 1_000, batch, undefined, T0 + 1_000)
  assert.is(w.addUnreadable(T0 + 1_500, T0 + 1_500), true)
  const s = w.snapshot(T0 + 2_000, context)
  assert.equal([s.processes, s.entries, s.unreadable, row(s, 'r').requests], [2, 5, 1, 4])
  assert.is(w.snapshot(T0 + 10_500, context).processes, 2)
  assert.is(w.snapshot(T0 + 11_000, context).processes, undefined)
  const onlyGarbage = new TopWindow({ windowMs: 10_000 })
  onlyGarbage.addUnreadable(T0, T0)
  assert.equal([onlyGarbage.snapshot(T0, context).empty, onlyGarbage.snapshot(T0, context).entries], [false, 1])
})

test('sort orders: descending by rps, p99, CPU share, or failures then client errors; ties by route name', () => {
  const w = new TopWindow({ windowMs: 60_000 })
  w.add(T0, entry(records(
    { route: 'fast', n: 50, time: () => 1, cpu: 0.125 },
    { route: 'slow', n: 5, time: () => 900, cpu: 2 },
    { route: 'broken', n: 5, status: 500, time: () => 3, cpu: 0.125 },
    { route: 'broken', n: 5, time: () => 3, cpu: 0.125 },
    { route: 'lost', n: 10, status: 404, time: () => 3, cpu: 0.125 },
    { route: 'bad', n: 10, status: 400, time: () => 3, cpu: 0.125 },
    { route: 'twin', n: 10, method: 'POST', time: () => 3, cpu: 0.125 },
    { route: 'twin', n: 10, method: 'GET', time: () => 3, cpu: 0.125 },
  )), undefined, T0)
  const order = (sort: SortKey, filter?: string): string[] =>
    w.snapshot(T0 + 100, { ...context, sort, filter }).routes.map((r) => `${r.method} ${r.route}`)
  assert.equal(order('rps'), ['GET fast', 'GET bad', 'GET broken', 'GET lost', 'GET twin', 'POST twin', 'GET slow'])
  assert.equal(order('p99').slice(0, 2), ['GET slow', 'GET bad'])
  assert.equal(order('cpu'), ['GET slow', 'GET fast', 'GET bad', 'GET broken', 'GET lost', 'GET twin', 'POST twin'])
  assert.equal(order('errors'), ['GET broken', 'GET bad', 'GET lost', 'GET fast', 'GET slow', 'GET twin', 'POST twin'])
  assert.equal(order('rps', 'TW'), ['GET twin', 'POST twin'])
  assert.equal(order('errors', 'o'), ['GET broken', 'GET lost', 'GET slow'], 'the route name, not the method')
  const filtered = w.snapshot(T0 + 100, { ...context, filter: 'slow' })
  assert.is(filtered.totals.requests, 105, 'totals are the whole window\'s, whatever the filter')
  assert.is(filtered.sort, 'rps')
})

test('the context passes through: state, stream, lag, stream length, and the last error only while not up', () => {
  const w = new TopWindow({ windowMs: 10_000 })
  const up = w.snapshot(T0, { sort: 'cpu', state: 'up', stream: 's1', lag: 4, streamLength: 12, lastError: 'old' })
  assert.equal([up.state, up.stream, up.lag, up.streamLength, up.sort, up.lastError], ['up', 's1', 4, 12, 'cpu', undefined])
  const down = w.snapshot(T0, { sort: 'rps', state: 'reconnecting', stream: 's1', lastError: 'connect ECONNREFUSED' })
  assert.equal([down.state, down.lag, down.streamLength, down.lastError], ['reconnecting', undefined, undefined, 'connect ECONNREFUSED'])
})

test.run()
