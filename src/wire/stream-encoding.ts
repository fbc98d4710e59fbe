/**
 * The Redis stream entry format. One Redis stream entry carries one batch of {@link MetricRecord}s (one
 * client flush, or a slice of it when the flush is bigger than the byte cap). Two schemas: `v=2`, what
 * {@link encodeBatch} writes, collapses the batch into groups with a summary per metric and a quantile
 * sketch per timer (stream-summary.ts); `v=1`, below, carries every record's values, and is still read so
 * entries written by an older app (or waiting in Redis across an upgrade) are not lost.
 *
 * ```
 * stream entry fields:   v = "2" | "1"  schema version (decode rejects anything else)
 *                        n = "<count>"  records in this entry (read without decoding, for stats)
 *                        p = <payload>  JSON text, below
 *
 * payload: { "t": base timestamp (ms),
 *            "s": [string dictionary: prefixes, routes, methods, dimension keys/values, metric names],
 *            "d": [[keyIdx, valueIdx, keyIdx, valueIdx, …], …]   dimension sets, deduplicated
 *            "g": [kind, prefixIdx, routeIdx, methodIdx, dimSetIdx, …]  groups (flat, 5 per group)
 *            "r": [groupIdx, status, aborted, tsDelta, nCounters, (nameIdx, value)…, nTimers, (nameIdx, value)…, …] }
 * ```
 *
 * Why this shape: every string is written once per entry and every row is plain numbers, so a typical
 * request costs ≈ 47 bytes instead of ≈ 277 as JSON objects, and the agent aggregates by small integer
 * indices (group × name) instead of building a string key per record. Measured: 1,000 records shaped as
 * bench/agent-drain.mjs writes them (20 routes × 2 methods, 2 dimensions, 3 counters, 2 timers) through
 * `encodeBatch(records, undefined, { version: 1 })`: 47,356 payload bytes, 47.4 a request (47.5 at 2,000,
 * 66 at 40, where the dictionary weighs more); `JSON.stringify` of the same records: 277 a request.
 *
 * JSON (not a binary layout) because `JSON.parse` of a numeric array runs at hundreds of MB/s in V8, entries
 * stay readable with `redis-cli XRANGE`, and no varint code has to be trusted.
 */
import { inRange, setOwn } from './metric-rules.js'
import type { MetricRecord } from './record.js'
import { countDrop } from '../util/drops.js'
import { EntryDictionary } from './entry-dictionary.js'
import { bucketValue, type Sketch } from './sketch.js'
import { checkGroupHead, isIndex, readGroup } from './stream-groups.js'
import { decodeSummaries, encodeSummarySlice } from './stream-summary.js'

/**
 * The schema version {@link encodeBatch} writes by default. {@link decodeEntry} reads it and `'1'`.
 *
 * Why v=2 (summaries) replaced v=1 (rows), measured with `node bench/agent-drain.mjs --encoding 1|2` (20
 * routes × 2 methods × 3 statuses, 2,000 requests per entry, Node 20, 2-core CI machine): 47.5 → 5.0 bytes
 * per request in Redis; the agent's decode + aggregate 1.07 M → 3.3 M requests per CPU-second (v=1 now
 * pays a sketch insert per timer value); the app's encode + XADD 0.87 → 0.81 µs per request (batches of
 * 500). Keeping rows and building the sketches in the agent would have cost nothing in bytes but kept every
 * value on the wire. At one request per group (a quiet app), v=2 is 1.06–1.08× the bytes of v=1 (40
 * requests on 40 routes, 2 or 3 counters and 2 timers each).
 *
 * @example
 * if (fields.v !== STREAM_ENCODING_VERSION && fields.v !== '1') deadLetter(id)
 */
export const STREAM_ENCODING_VERSION = '2'

/**
 * Default byte cap of one entry's payload: ≈ 20,000 typical requests in v=1 rows (≈ 47 bytes each: 20,300
 * per entry when 200,000 such records are encoded), small enough that one XADD or XREADGROUP reply never
 * stalls Redis. A v=2 entry of a typical flush is far below it (2,000 requests ≈ 10 KB).
 *
 * @example
 * encodeBatch(records, DEFAULT_MAX_ENTRY_BYTES / 4)
 */
export const DEFAULT_MAX_ENTRY_BYTES = 1024 * 1024

/** One encoded stream entry, ready for `XADD key * v <v> n <n> p <payload>`. */
export interface EncodedEntry {
  /** Schema version, `'2'` (or `'1'` when asked for). */
  readonly v: string
  /** Number of records in the entry. */
  readonly n: number
  /** The JSON payload. */
  readonly p: string
  /** Payload size in UTF-8 bytes (what the cap is checked against). */
  readonly bytes: number
}

/** Result of {@link encodeBatch}: the entries, and the records that could not fit any entry. */
export interface EncodeResult {
  readonly entries: EncodedEntry[]
  /** Records dropped because one alone was larger than the cap, or carried no finite metric at all. */
  readonly dropped: number
}

/**
 * What {@link decodeEntry} throws for anything it cannot read: garbage, a bad index, an unknown version.
 *
 * @example
 * catch (e) { if (e instanceof StreamDecodeError && e.reason === 'version') console.warn('entry from a newer routemeter') }
 */
export class StreamDecodeError extends Error {
  override readonly name = 'StreamDecodeError'
  /** `version`: an entry from a newer (or unknown) schema; `malformed`: anything else. */
  readonly reason: 'version' | 'malformed'
  constructor(reason: 'version' | 'malformed', message: string) {
    super(message)
    this.reason = reason
  }
}

/** One series key inside a decoded entry: everything that identifies a record except its numbers. */
export interface DecodedGroup {
  readonly kind: 'request' | 'process'
  readonly prefix: string
  readonly route: string
  readonly method: string
  readonly dimensions: Readonly<Record<string, string>>
  /** The records' status code (0 when none was sent, and on process records). v=2 groups, and the agent's series. */
  readonly status?: number
  /** The records were aborted (the client hung up first). v=2 groups, and the agent's series. */
  readonly aborted?: boolean
  /** Records in the group (v=2). */
  readonly records?: number
}

/**
 * One metric of one group in a v=2 entry: exact count, sum, min and max, and for a timer its sketch.
 * `group` and `name` index into the batch's `groups` and `strings`.
 */
export interface DecodedSummary {
  readonly group: number
  readonly type: 'counter' | 'timer'
  readonly name: number
  readonly count: number
  readonly sum: number
  readonly min: number
  readonly max: number
  /** Timers only: the values' buckets (shared: clone before merging into it); undefined for a timer whose sketch
   * the reader did not ask for ({@link DecodeOptions.sketches}). */
  readonly sketch: Sketch | undefined
}

/**
 * A decoded entry, kept columnar: `rows` (v=1) is the validated numeric row array, `summaries` (v=2) the
 * per-group metrics, `groups` and `strings` the dictionaries they index into. Walk either with
 * {@link forEachMetric}; {@link toRecords} gives plain records back from a v=1 entry.
 */
export interface DecodedBatch {
  readonly version: 1 | 2
  /** Records in the entry. */
  readonly count: number
  /** Records of kind `request` (the rest are `process` records). */
  readonly requests: number
  readonly baseTimestamp: number
  readonly strings: readonly string[]
  readonly groups: readonly DecodedGroup[]
  /** v=1 rows; empty in a v=2 batch. */
  readonly rows: readonly number[]
  /** v=2 summaries, in group order; empty in a v=1 batch. */
  readonly summaries: readonly DecodedSummary[]
}

/** Options of {@link encodeBatch}. */
export interface EncodeOptions {
  /** Schema to write: 2 (default, summaries) or 1 (one row per record, for readers older than v=2). */
  version?: 1 | 2
}

/**
 * Encodes a batch into one or more entries (schema {@link STREAM_ENCODING_VERSION} unless `options.version`
 * says 1), each payload at most `maxBytes` UTF-8 bytes. A batch that does
 * not fit is split into slices of consecutive records; a single record bigger than the cap is dropped
 * (counted in `dropped`), since no entry could carry it. A metric value beyond ±1e15 (`MAX_METRIC_VALUE`)
 * (NaN and ±Infinity included) is left out and counted as a `value` drop: the door refuses such values, so
 * only a hand-built record has one, and the agent's sums must stay finite.
 *
 * @example
 * const { entries } = encodeBatch(records)
 * for (const e of entries) await client.xAdd('routemeter', '*', { v: e.v, n: String(e.n), p: e.p })
 */
export function encodeBatch(
  batch: readonly MetricRecord[], maxBytes: number = DEFAULT_MAX_ENTRY_BYTES, options: EncodeOptions = {},
): EncodeResult {
  const v1 = options.version === 1
  const entries: EncodedEntry[] = []
  let dropped = 0
  // Slices are tried whole first; an oversize slice is cut in proportion to how much it overshot (records
  // in one flush are similar in size, so one cut nearly always suffices), then halved if still too big.
  const pending: Array<[number, number]> = [[0, batch.length]]
  while (pending.length > 0) {
    const [start, end] = pending.pop() as [number, number]
    if (end <= start) continue
    const slice = v1 ? encodeSlice(batch, start, end) : summarySlice(batch, start, end)
    if (slice === undefined) { dropped += end - start; continue }
    const { skipped, ...entry } = slice
    if (entry.bytes <= maxBytes) {
      dropped += end - start - entry.n
      // Counted only for a slice that is kept: an oversize slice is encoded again in parts.
      if (skipped > 0) countDrop('value', skipped)
      entries.push(entry)
      continue
    }
    const size = end - start
    if (size === 1) { dropped += 1; continue }
    const fit = Math.max(1, Math.min(size - 1, Math.floor(size * (maxBytes / entry.bytes) * 0.95)))
    // Pushed in reverse so slices are emitted in record order.
    pending.push([start + fit, end], [start, start + fit])
  }
  return { entries, dropped }
}

function summarySlice(batch: readonly MetricRecord[], start: number, end: number): (EncodedEntry & { skipped: number }) | undefined {
  const slice = encodeSummarySlice(batch, start, end)
  return slice === undefined ? undefined : { v: '2', n: slice.n, p: slice.p, bytes: Buffer.byteLength(slice.p), skipped: slice.skipped }
}

function encodeSlice(batch: readonly MetricRecord[], start: number, end: number): (EncodedEntry & { skipped: number }) | undefined {
  const dict = new EntryDictionary()
  const str = (s: string): number => dict.string(s)
  const groups: number[] = []
  // route → (method, dimension set, kind, prefix) → group. Nested lookups on the record's own strings
  // avoid building a key string per record (measured on 20 routes × 2 methods: 1.1 → 0.65 µs per record for the whole encode).
  const groupIndex = new Map<string, Map<string, number>>()
  const rows: number[] = []
  let base = Infinity
  for (let i = start; i < end; i++) { const t = batch[i].timestamp; if (t < base) base = t }
  if (!Number.isFinite(base)) base = 0
  let count = 0
  const skipped = { n: 0 }

  for (let i = start; i < end; i++) {
    const r = batch[i]
    const d = dict.dimensionSet(r.dimensions)
    const kind = r.kind === 'process' ? 1 : 0
    let byRoute = groupIndex.get(r.route)
    if (byRoute === undefined) { byRoute = new Map(); groupIndex.set(r.route, byRoute) }
    const gkey = kind === 0 && r.prefix === '' ? r.method + '\u0000' + d : r.method + '\u0000' + d + '\u0000' + kind + r.prefix
    let g = byRoute.get(gkey)
    if (g === undefined) {
      g = groups.length / 5
      groups.push(kind, str(r.prefix), str(r.route), str(r.method), d)
      byRoute.set(gkey, g)
    }
    const rowStart = rows.length
    const ts = Number.isFinite(r.timestamp) ? r.timestamp - base : 0
    rows.push(g, r.status | 0, r.aborted ? 1 : 0, ts, 0)
    const nc = pushMetrics(rows, r.counters, str, skipped)
    rows[rowStart + 4] = nc
    const ntAt = rows.length
    rows.push(0)
    const nt = pushMetrics(rows, r.timers, str, skipped)
    rows[ntAt] = nt
    count++
  }
  if (count === 0) return undefined
  const p = JSON.stringify({ t: base, s: dict.strings, d: dict.dimSets, g: groups, r: rows })
  return { v: '1', n: count, p, bytes: Buffer.byteLength(p), skipped: skipped.n }
}

function pushMetrics(
  rows: number[], metrics: Readonly<Record<string, number>>, str: (s: string) => number, skipped: { n: number },
): number {
  let n = 0
  for (const name in metrics) {
    const value = metrics[name]
    if (!inRange(value)) { skipped.n++; continue }
    rows.push(str(name), value)
    n++
  }
  return n
}

/** Options of {@link decodeEntry}. */
export interface DecodeOptions {
  /**
   * v=2: the timers whose sketches to build, by name; the others keep count, sum, min and max only (checked all
   * the same). Absent: every timer's. `routemeter top` shows quantiles of RequestTime alone: an entry of 2,500
   * one-request groups with three timers each decodes in 3.3 ms instead of 3.8 (Node 20; 2.2 against 2.6 on 24).
   * {@link forEachMetric} visits a timer without a sketch once, with its sum: walk such a batch's summaries.
   */
  readonly sketches?: ReadonlySet<string>
}

/**
 * Decodes one entry's fields. Throws {@link StreamDecodeError} (and nothing else) for an unknown version
 * or any malformed payload: every index is checked against its dictionary before the batch is returned,
 * so code walking a returned batch never meets a bad index.
 *
 * @example
 * try { const batch = decodeEntry(fields.v, fields.p) } catch (e) { if (e instanceof StreamDecodeError) deadLetter(id, e) }
 */
export function decodeEntry(version: unknown, payload: unknown, options: DecodeOptions = {}): DecodedBatch {
  if (version !== '1' && version !== '2') {
    throw new StreamDecodeError('version', `unknown stream encoding version ${JSON.stringify(String(version)).slice(0, 40)}`)
  }
  if (typeof payload !== 'string') throw malformed('payload is not a string')
  let raw: unknown
  try { raw = JSON.parse(payload) } catch { throw malformed('payload is not JSON') }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw malformed('payload is not an object')
  const { t, s, d, g, r, m } = raw as Record<string, unknown>
  if (typeof t !== 'number' || !Number.isFinite(t)) throw malformed('bad base timestamp')
  if (!Array.isArray(s) || !s.every((x) => typeof x === 'string')) throw malformed('bad string dictionary')
  if (!Array.isArray(d) || !Array.isArray(g) || !Array.isArray(version === '1' ? r : m)) throw malformed('missing dictionary or rows')
  const strings = s as string[]

  const dims: Array<Readonly<Record<string, string>>> = []
  for (const set of d) {
    if (!Array.isArray(set) || set.length % 2 !== 0) throw malformed('bad dimension set')
    const obj: Record<string, string> = {}
    for (let i = 0; i < set.length; i += 2) {
      const key: unknown = set[i]
      const value: unknown = set[i + 1]
      if (!isIndex(key, strings.length) || !isIndex(value, strings.length)) throw malformed('bad dimension index')
      setOwn(obj, strings[key], strings[value])
    }
    dims.push(Object.freeze(obj))
  }
  if (version === '2') {
    const { sketches } = options
    const sketchOf = sketches === undefined ? undefined : (name: number): boolean => sketches.has(strings[name])
    const decoded = decodeSummaries({ strings, dims, g, m: m as unknown[], bytes: payload.length, malformed, sketchOf })
    return { version: 2, baseTimestamp: t, strings, rows: [], ...decoded }
  }
  if (g.length % 5 !== 0) throw malformed('bad group table')
  for (let i = 0; i < g.length; i += 5) checkGroupHead(g, i, strings.length, dims.length, malformed)
  const heads = g.length / 5
  const rows = r as unknown[]
  const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x)
  let count = 0
  let requests = 0
  let i = 0
  // v=1 groups know no status, v=2 groups do: each (group, status, aborted) a row names becomes a group of
  // its own, and the row is pointed at it, so a batch of either version has groups with a status.
  const split = new Map<number, number>()
  const splitGroups: DecodedGroup[] = []
  while (i < rows.length) {
    if (i + 5 > rows.length) throw malformed('truncated row')
    if (!isIndex(rows[i], heads)) throw malformed('bad row group')
    if (g[(rows[i] as number) * 5] === 0) requests++
    if (!num(rows[i + 1]) || !num(rows[i + 2]) || !num(rows[i + 3])) throw malformed('bad row header')
    const status = rows[i + 1] as number
    const code = status >= 0 && status < 1000 ? status | 0 : 0
    const aborted = rows[i + 2] === 1
    const key = ((rows[i] as number) * 1000 + code) * 2 + (aborted ? 1 : 0)
    let to = split.get(key)
    if (to === undefined) {
      to = splitGroups.length
      splitGroups.push(readGroup(g, (rows[i] as number) * 5, strings, dims, malformed, code, aborted, undefined))
      split.set(key, to)
    }
    rows[i] = to
    i += 4
    for (let part = 0; part < 2; part++) {
      const n = rows[i]
      if (!isIndex(n, (rows.length - i - 1) / 2 + 1)) throw malformed('bad metric count')
      i++
      for (let k = 0; k < n; k++, i += 2) {
        if (!isIndex(rows[i], strings.length) || !num(rows[i + 1])) throw malformed('bad metric')
      }
    }
    count++
  }
  return { version: 1, count, requests, baseTimestamp: t, strings, groups: splitGroups, rows: rows as number[], summaries: [] }
}

function malformed(message: string): StreamDecodeError {
  return new StreamDecodeError('malformed', `malformed stream entry: ${message}`)
}

/**
 * Calls `visit` once per metric value in a decoded batch, with the row's group, the metric's kind and name,
 * and its value. Allocates nothing per record, which is what lets one agent core aggregate ≥ 200,000
 * requests/s.
 *
 * A v=2 batch holds no single values, so there a counter is visited once per group with its sum, and a
 * timer once per value it summarizes: its exact min and max once each, the other values as their bucket's
 * value (within 1.08 %, clamped to [min, max]), in ascending order. A publisher that needs values one by one
 * (StatsD timings) thus sends as many as before, each within the sketch's error, with min and max exact.
 *
 * @example
 * forEachMetric(batch, (group, type, name, value) => { if (name === 'RequestTime') total++ })
 */
export function forEachMetric(
  batch: DecodedBatch,
  visit: (groupIndex: number, type: 'counter' | 'timer', nameIndex: number, value: number) => void,
): void {
  if (batch.version === 2) {
    for (const s of batch.summaries) {
      if (s.sketch === undefined) { visit(s.group, s.type, s.name, s.sum); continue }
      forEachValue(s.sketch, (value) => { visit(s.group, 'timer', s.name, value) })
    }
    return
  }
  const rows = batch.rows
  let i = 0
  while (i < rows.length) {
    const g = rows[i]
    i += 4
    let n = rows[i++]
    for (let k = 0; k < n; k++, i += 2) visit(g, 'counter', rows[i], rows[i + 1])
    n = rows[i++]
    for (let k = 0; k < n; k++, i += 2) visit(g, 'timer', rows[i], rows[i + 1])
  }
}

function forEachValue(sketch: Sketch, visit: (value: number) => void): void {
  const { count, min, max } = sketch
  visit(min)
  if (count === 1) return
  let left = count - 2
  const clamp = (v: number): number => (v < min ? min : v > max ? max : v)
  // In ascending order: negative buckets from the largest magnitude, zeros, positive buckets. The first and
  // last values of the walk are replaced by the exact min and max, so each bucket gives up one at the ends.
  let skip = 1
  const emit = (value: number, n: number): void => {
    const take = Math.min(n - Math.min(skip, n), left)
    skip -= Math.min(skip, n)
    for (let k = 0; k < take; k++) visit(clamp(value))
    left -= take
  }
  const neg: Array<[number, number]> = []
  sketch.forEachBucket((index, n, negative) => { if (negative) neg.push([index, n]) })
  for (let i = neg.length - 1; i >= 0; i--) emit(-bucketValue(neg[i][0]), neg[i][1])
  if (sketch.zero > 0) emit(0, sketch.zero)
  sketch.forEachBucket((index, n, negative) => { if (!negative) emit(bucketValue(index), n) })
  visit(max)
}

/**
 * Turns a decoded v=1 batch back into plain {@link MetricRecord}s (the inverse of `encodeBatch(…, { version:
 * 1 })`, up to values left out for being out of range, and key order). A v=2 batch carries summaries, not
 * records: a `TypeError`.
 *
 * @example
 * const records = toRecords(decodeEntry(fields.v, fields.p))
 */
export function toRecords(batch: DecodedBatch): MetricRecord[] {
  if (batch.version !== 1) throw new TypeError('routemeter: toRecords reads v=1 entries; a v=2 entry holds summaries (use forEachMetric)')
  const out: MetricRecord[] = []
  const { rows, strings, groups } = batch
  let i = 0
  while (i < rows.length) {
    const group = groups[rows[i]]
    const status = rows[i + 1]
    const aborted = rows[i + 2] === 1
    const timestamp = batch.baseTimestamp + rows[i + 3]
    i += 4
    const counters: Record<string, number> = {}
    let n = rows[i++]
    for (let k = 0; k < n; k++, i += 2) setOwn(counters, strings[rows[i]], rows[i + 1])
    const timers: Record<string, number> = {}
    n = rows[i++]
    for (let k = 0; k < n; k++, i += 2) setOwn(timers, strings[rows[i]], rows[i + 1])
    out.push({
      kind: group.kind, prefix: group.prefix, route: group.route, method: group.method, status, aborted,
      dimensions: group.dimensions, counters, timers, timestamp,
    })
  }
  return out
}
