/**
 * Schema `v=2` of the stream entry payload: a flush collapsed into groups with a summary per metric.
 *
 * ```
 * payload: { "t": base timestamp (ms, the earliest record's),
 *            "s": [string dictionary], "d": [dimension sets]          (as in v=1)
 *            "g": [kind, prefixIdx, routeIdx, methodIdx, dimSetIdx, status, aborted, records, …]  8 per group
 *            "m": per group, in group order:
 *                 nCounters, (nameIdx, count, sum, min, max)…,
 *                 nTimers,   (nameIdx, count, sum, min, max, zeros, nPos, posRuns…, nNeg, negRuns…)… }
 *                 a metric with count 1 is (nameIdx, 1, value): its sum, min and max, and its one bucket
 * ```
 *
 * A group is route × method × exact status × aborted × dimensions × kind × prefix; a timer's count is
 * its zeros plus its bucket counts (runs: see `writeRuns` in sketch.ts). The short form for one value keeps
 * a sparse flush (every request alone in its group) at ≈ the bytes of v=1: 40 such requests, 2 counters
 * and 2 timers each, were 1.9× v=1 without it. What v=1 carried and v=2 does not:
 * each record's own values and start time. The agent never used either (InfluxDB points are stamped from
 * the entry id), and the summary keeps count, sum, min and max exact and quantiles within 1.08 %.
 *
 * Why collapse in the app: fewer bytes in Redis (47.5 → 5.0 per request at 2,000 requests an entry), less
 * JSON for the app to write and the agent to parse, and no per-value work in the agent (figures:
 * `STREAM_ENCODING_VERSION` in stream-encoding.ts).
 */
import { inRange, MAX_METRIC_VALUE } from './metric-rules.js'
import type { MetricRecord } from './record.js'
import type { DecodedGroup, DecodedSummary } from './stream-encoding.js'
import { EntryDictionary } from './entry-dictionary.js'
import { readRuns, Sketch, writeRuns } from './sketch.js'
import { isIndex, readGroup } from './stream-groups.js'

interface CounterAcc { readonly name: string, readonly index: number, count: number, sum: number, min: number, max: number }
interface TimerAcc { readonly name: string, readonly index: number, readonly sketch: Sketch }

/**
 * A group's counters (or timers) in first-seen order. Records of one group list their metrics alike, so a
 * metric is looked for at the record's own position first; a map by name is built only when that misses.
 */
class Slots<T extends { readonly name: string }> {
  readonly list: T[] = []
  #byName: Map<string, T> | undefined

  find(position: number, name: string): T | undefined {
    const list = this.list
    if (position < list.length && list[position].name === name) return list[position]
    if (list.length === 0) return undefined
    if (this.#byName === undefined) {
      this.#byName = new Map()
      for (const slot of list) this.#byName.set(slot.name, slot)
    }
    return this.#byName.get(name)
  }

  add(slot: T): T {
    this.list.push(slot)
    this.#byName?.set(slot.name, slot)
    return slot
  }
}

/**
 * A group: its strings (compared as they are, not by dictionary index), its header as written (kind, the strings'
 * indices, dimension set, status, aborted, record count), and its metrics.
 */
interface GroupAcc {
  readonly route: string
  readonly method: string
  readonly prefix: string
  readonly header: number[]
  readonly counters: Slots<CounterAcc>
  readonly timers: Slots<TimerAcc>
}

/** A route's groups: scanned in a short list, keyed by a string only past {@link SCANNED_GROUPS}. */
interface RouteGroups { readonly list: GroupAcc[], byKey: Map<string, GroupAcc> | undefined }

/**
 * Groups of one route compared field by field before any key string is built: a flush's route has one to a few
 * (methods × statuses), and the key string cost a concatenation and a hash per record.
 */
const SCANNED_GROUPS = 8

/**
 * Encodes records `start…end` of `batch` as a v=2 payload. Returns `undefined` when no record carried
 * anything (every value out of range and no record at all).
 *
 * Runs once per flush for every record the Redis sink sends, so it is the sink's per-request price. The record
 * is matched to its group field by field (the previous record's group first), and each metric to its
 * accumulator by position (`Failure` is a route's first counter in every record), a string key and a map
 * lookup only when those miss. The group key string built per record (five concatenations and a hash) and a
 * map lookup per metric name were ≈ 2,000 of the ≈ 4,700 instructions the Redis sink added per request over
 * a sink that keeps nothing (`bench/instructions.mjs --only rm-discard,rm-redis,rm-redis-before --routes tiny`,
 * Node 24: −1,992 over paired windows).
 *
 * @example
 * const slice = encodeSummarySlice(records, 0, records.length)
 */
export function encodeSummarySlice(
  batch: readonly MetricRecord[], start: number, end: number,
): { n: number, p: string, skipped: number } | undefined {
  const dict = new EntryDictionary()
  const groups: GroupAcc[] = []
  const byRoute = new Map<string, RouteGroups>()
  let last: GroupAcc | undefined
  let base = Infinity
  let skipped = 0
  let count = 0
  for (let i = start; i < end; i++) {
    const r = batch[i]
    if (r.timestamp < base) base = r.timestamp
    const d = dict.dimensionSet(r.dimensions)
    const kind = r.kind === 'process' ? 1 : 0
    // The decoder refuses a status outside 0…999, so a hand-built record with one is written as 0.
    const status = r.status >= 0 && r.status < 1000 ? r.status | 0 : 0
    const aborted = r.aborted ? 1 : 0
    let g: GroupAcc | undefined = last
    if (g === undefined || !sameGroup(g, r, kind, d, status, aborted)) {
      g = findGroup(byRoute, r, kind, d, status, aborted)
      if (g === undefined) {
        g = {
          route: r.route, method: r.method, prefix: r.prefix,
          header: [kind, dict.string(r.prefix), dict.string(r.route), dict.string(r.method), d, status, aborted, 0],
          counters: new Slots(), timers: new Slots(),
        }
        groups.push(g)
        addGroup(byRoute, r, g)
      }
      last = g
    }
    g.header[7]++
    count++
    let k = 0
    for (const name in r.counters) {
      const value = r.counters[name]
      if (!inRange(value)) { skipped++; continue }
      const acc = g.counters.find(k++, name)
      if (acc === undefined) g.counters.add({ name, index: dict.string(name), count: 1, sum: value, min: value, max: value })
      else {
        acc.count++
        acc.sum += value
        if (value < acc.min) acc.min = value
        if (value > acc.max) acc.max = value
      }
    }
    k = 0
    for (const name in r.timers) {
      const value = r.timers[name]
      if (!inRange(value)) { skipped++; continue }
      const acc = g.timers.find(k++, name) ?? g.timers.add({ name, index: dict.string(name), sketch: new Sketch() })
      acc.sketch.add(value)
    }
  }
  if (count === 0) return undefined
  if (!Number.isFinite(base)) base = 0
  const header: number[] = []
  const metrics: number[] = []
  for (const g of groups) {
    header.push(...g.header)
    metrics.push(g.counters.list.length)
    for (const c of g.counters.list) {
      if (c.count === 1) metrics.push(c.index, 1, c.sum)
      else metrics.push(c.index, c.count, c.sum, c.min, c.max)
    }
    metrics.push(g.timers.list.length)
    for (const t of g.timers.list) {
      const s = t.sketch
      if (s.count === 1) { metrics.push(t.index, 1, s.sum); continue }
      metrics.push(t.index, s.count, s.sum, s.min, s.max, s.zero)
      writeRuns(metrics, s)
    }
  }
  const p = JSON.stringify({ t: base, s: dict.strings, d: dict.dimSets, g: header, m: metrics })
  return { n: count, p, skipped }
}

function sameGroup(g: GroupAcc, r: MetricRecord, kind: number, d: number, status: number, aborted: number): boolean {
  const h = g.header
  return h[5] === status && g.route === r.route && g.method === r.method && h[4] === d && h[6] === aborted && h[0] === kind &&
    g.prefix === r.prefix
}

function findGroup(
  byRoute: Map<string, RouteGroups>, r: MetricRecord, kind: number, d: number, status: number, aborted: number,
): GroupAcc | undefined {
  const route = byRoute.get(r.route)
  if (route === undefined) return undefined
  for (const g of route.list) if (sameGroup(g, r, kind, d, status, aborted)) return g
  return route.byKey?.get(groupKey(r, kind, d, status, aborted))
}

function addGroup(byRoute: Map<string, RouteGroups>, r: MetricRecord, g: GroupAcc): void {
  let route = byRoute.get(r.route)
  if (route === undefined) { route = { list: [], byKey: undefined }; byRoute.set(r.route, route) }
  if (route.list.length < SCANNED_GROUPS) { route.list.push(g); return }
  route.byKey ??= new Map()
  const h = g.header
  route.byKey.set(groupKey(r, h[0], h[4], h[5], h[6]), g)
}

function groupKey(r: MetricRecord, kind: number, d: number, status: number, aborted: number): string {
  return r.method + '\u0000' + d + '\u0000' + status + '\u0000' + aborted + '\u0000' + kind + r.prefix
}

/** A group's metrics: its counters, then its timers. */
const METRIC_TYPES = ['counter', 'timer'] as const

/** What {@link decodeSummaries} needs from the generic decoder. */
export interface SummaryInput {
  readonly strings: readonly string[]
  readonly dims: ReadonlyArray<Readonly<Record<string, string>>>
  readonly g: readonly unknown[]
  readonly m: readonly unknown[]
  /** Byte length of the payload: bounds the bucket slots decoding may allocate. */
  readonly bytes: number
  readonly malformed: (message: string) => Error
  /** Whether to build the sketch of the timer named `strings[name]`; absent: every timer's. */
  readonly sketchOf?: ((name: number) => boolean) | undefined
}

/**
 * Validates and decodes a v=2 group table and metric list. Throws `input.malformed(…)` on any bad index,
 * count or number, so a returned summary is safe to use as it is.
 *
 * @example
 * const { groups, summaries, count, requests } = decodeSummaries({ strings, dims, g, m, bytes, malformed })
 */
export function decodeSummaries(
  input: SummaryInput,
): { groups: DecodedGroup[], summaries: DecodedSummary[], count: number, requests: number } {
  const { strings, dims, g, m, malformed, sketchOf } = input
  const num = (x: unknown): x is number => inRange(x)
  const isSum = (x: unknown, n: number): x is number => typeof x === 'number' && Math.abs(x) <= n * MAX_METRIC_VALUE
  if (g.length % 8 !== 0) throw malformed('bad group table')
  const groups: DecodedGroup[] = []
  let count = 0
  let requests = 0
  for (let i = 0; i < g.length; i += 8) {
    const status = g[i + 5]
    const aborted = g[i + 6]
    const records = g[i + 7]
    if (!isIndex(status, 1000) || (aborted !== 0 && aborted !== 1)) throw malformed('bad group status')
    if (typeof records !== 'number' || !Number.isSafeInteger(records) || records < 1) throw malformed('bad group record count')
    const group = readGroup(g, i, strings, dims, malformed, status, aborted === 1, records)
    count += records
    if (group.kind === 'request') requests += records
    groups.push(group)
  }
  const summaries: DecodedSummary[] = []
  // Twice the payload's bytes in bucket slots, at least 64 Ki: a real entry needs far less (its runs are
  // written densely), a hostile one cannot make the agent allocate much more than it sent.
  const budget = { slots: Math.max(65_536, input.bytes * 2) }
  let at = 0
  for (let gi = 0; gi < groups.length; gi++) {
    for (const type of METRIC_TYPES) {
      const n = m[at]
      if (!isIndex(n, m.length)) throw malformed('bad metric count')
      at++
      for (let k = 0; k < n; k++) {
        const name = m[at]
        if (!isIndex(name, strings.length)) throw malformed('bad metric name')
        const c = m[at + 1]
        if (!isIndex(c, groups[gi].records! + 1) || c < 1) throw malformed('bad metric count')
        if (c === 1) {
          const value = m[at + 2]
          if (!num(value)) throw malformed('bad metric value')
          let sketch: Sketch | undefined
          if (type === 'timer' && (sketchOf === undefined || sketchOf(name))) { sketch = new Sketch(); sketch.add(value) }
          summaries.push({ group: gi, type, name, count: 1, sum: value, min: value, max: value, sketch })
          at += 3
          continue
        }
        const [sum, min, max] = [m[at + 2], m[at + 3], m[at + 4]]
        // Each value is within ±MAX_METRIC_VALUE, so a sum of c of them is within c times it (2,000 values of
        // 6e14 sum to 1.2e15, and refusing that lost every route of the entry); still far from Infinity.
        if (!isSum(sum, c) || !num(min) || !num(max) || min > max) throw malformed('bad metric summary')
        if (type === 'counter') {
          summaries.push({ group: gi, type, name, count: c, sum, min, max, sketch: undefined })
          at += 5
          continue
        }
        const zero = m[at + 5]
        if (!isIndex(zero, c + 1)) throw malformed('bad timer zeros')
        // Checked the same either way; a reader that shows only a timer's mean skips allocating its buckets.
        const sketch = sketchOf === undefined || sketchOf(name) ? new Sketch() : undefined
        const read = readRuns(m, at + 6, sketch, budget)
        if (read === undefined) throw malformed('bad timer buckets')
        if (zero + read.values !== c) throw malformed('bad timer count')
        if (sketch !== undefined) {
          sketch.count = c
          sketch.zero = zero
          sketch.sum = sum
          sketch.min = min
          sketch.max = max
        }
        summaries.push({ group: gi, type, name, count: c, sum, min, max, sketch })
        at = read.next
      }
    }
  }
  if (at !== m.length) throw malformed('trailing metric data')
  return { groups, summaries, count, requests }
}
