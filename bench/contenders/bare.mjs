// The baseline: the application on bare node:http, nothing measured.
//
// With `loadLibrary: true` (the `bare-loaded` row) the build of routemeter is imported and left unused: a
// control. Whatever it differs from bare by is no work of the library's: on Node 24's json route it counted
// 14,000 instructions a request fewer than bare, all of them in the collector's visit of V8's object caches
// (bench/instructions.mjs), a difference in what the process loaded, not in what it does per request.
//
// With `syscalls: n` (the `bare-syscalls` row) each request first calls process.cpuUsage() n times and
// discards the result: another control, for what a system call costs the request beyond its own duration on
// the machine at hand (bench/clock-cost.mjs times the call alone). The floor makes two such calls a request;
// the attributed clock's guard 0.1–0.55 (0.05–0.27 reads of two calls each, paired.mjs --count).
//
// With `gcObserver: true` (the `bare-gc` row) a PerformanceObserver of 'gc' entries that does nothing is
// registered: a third control, for what Node's GC tracking costs a server by itself (the attributed clock's
// GC refund needs one).
//
// With `redisEvery: ms` (the `bare-redis` row) the app has a node-redis client of its own and appends one small
// entry to the bench's redis-server every `ms`: a fourth control, for what Redis traffic at a sink's pace costs
// a server that records nothing (one XADD a second: a redisSink flushing on its timer, as it does below 500
// requests a second; bench/redis-roundtrip.mjs prices one XADD alone).
//
// With `redisPerRequests: n` (the `bare-redis500` row) the same client appends an entry after every n-th request
// instead, in an immediate as the batcher's flush comes, with a 6,000-byte payload (500 requests at ≈ 12 bytes
// each, inside the 5–18 bytes a request the README gives a v=2 entry): the Redis sink's traffic at load without its records,
// encoder or delivery, so `rm-redis` − `rm-discard` can be set against it. With `redisRaw: true` as well (the
// `bare-redis500-raw` row) the entry goes as hand-written RESP on a plain `net` socket, replies read and dropped:
// the same bytes both ways without node-redis, what the client adds to them.
import { PerformanceObserver } from 'node:perf_hooks'
import { app } from '../app.mjs'
import { distEntry } from '../lib/dist.mjs'

export async function create({
  loadLibrary = false, syscalls = 0, gcObserver = false, redisEvery = 0, redisPerRequests = 0, redisRaw = false, redisUrl, stream,
} = {}) {
  // node-redis given no URL would find whatever listens on 127.0.0.1:6379, the machine's own server here.
  if ((redisEvery > 0 || redisPerRequests > 0) && redisUrl === undefined) {
    throw new TypeError('bare: a Redis row needs the bench\'s redisUrl')
  }
  if (redisEvery > 0) await sendToRedis(redisUrl, stream, redisEvery)
  const afterRequest = redisPerRequests > 0 ? await (redisRaw ? rawEveryNth : redisEveryNth)(redisUrl, stream, redisPerRequests) : null
  let gcs = 0
  if (gcObserver) new PerformanceObserver((list) => { gcs += list.getEntries().length }).observe({ entryTypes: ['gc'] })
  const loaded = loadLibrary ? await import(distEntry()) : null
  const detail = loaded === null
    ? `baseline, records nothing${syscalls > 0 ? `, ${syscalls} process.cpuUsage() a request` : ''}` +
      `${redisEvery > 0 ? `, an XADD of its own every ${redisEvery} ms` : ''}` +
      `${redisPerRequests > 0 ? `, an XADD of its own every ${redisPerRequests} requests${redisRaw ? ' on a raw socket' : ''}` : ''}`
    : `baseline with the library loaded (${Object.keys(loaded).length} exports), unused`
  const gcDetail = () => (gcObserver ? `, a 'gc' observer (${gcs} pauses seen)` : '')
  const listener = syscalls === 0 && afterRequest === null ? app : (req, res) => {
    for (let i = 0; i < syscalls; i++) process.cpuUsage()
    afterRequest?.()
    return app(req, res)
  }
  return { listener, async verify(served) { return { ok: served > 0 && (!gcObserver || gcs > 0), detail: detail + gcDetail() } } }
}

/** The payload of a redisPerRequests entry: 500 requests at ≈ 12 bytes each (above), the same for both clients. */
const SINK_SIZED_PAYLOAD = 'x'.repeat(6000)
/** The sink's default stream cap (`maxLen`), sent by both clients. */
const MAX_LEN = 10_000

/** A node-redis client of the app's own, connected and unref'd. */
async function ownClient(url) {
  const { createClient } = await import('redis')
  const client = createClient({ url })
  await client.connect()
  client.unref()
  return client
}

/** A function to call on each request that runs `send` in an immediate every `n`-th time, as a flush comes. */
function everyNth(n, send) {
  let seen = 0
  return () => { if (++seen % n === 0) setImmediate(send) }
}

/** An XADD of the fields a redisSink entry has, every `everyMs`, from a client of the app's own (unref'd). */
async function sendToRedis(url, stream, everyMs) {
  const client = await ownClient(url)
  const fields = { v: '2', n: '0', p: '{"t":0}', s: 'bare-redis' }
  setInterval(() => { client.xAdd(stream, '*', fields).catch(() => {}) }, everyMs).unref()
}

/** A function to call on each request that, every `n`-th time, queues an XADD of a sink-sized entry (everyNth). */
async function redisEveryNth(url, stream, n) {
  const client = await ownClient(url)
  const fields = { v: '2', n: String(n), p: SINK_SIZED_PAYLOAD, s: 'bare-redis' }
  const trim = { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: MAX_LEN } }
  return everyNth(n, () => { client.xAdd(stream, '*', fields, trim).catch(() => {}) })
}

/**
 * `redisEveryNth` without node-redis: the XADD as RESP bytes built once, written on a plain socket. A sink would
 * build them per entry (a 6 KB copy, a few µs a flush), which this leaves out.
 */
async function rawEveryNth(url, stream, n) {
  const { connect } = await import('node:net')
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  await new Promise((resolve, reject) => { socket.once('connect', resolve).once('error', reject) })
  socket.setNoDelay(true)
  socket.unref()
  socket.on('data', () => {}) // replies read and dropped: the stream's length shows the entries arrived
  socket.on('error', () => {}) // a lost Redis must not end the server mid-run; the check finds the entries missing
  const args = ['XADD', stream, 'MAXLEN', '~', String(MAX_LEN), '*', 'v', '2', 'n', String(n), 'p', SINK_SIZED_PAYLOAD, 's', 'bare-redis']
  const command = Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`)
  return everyNth(n, () => { socket.write(command) })
}
