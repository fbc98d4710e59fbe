import { AsyncResource } from 'node:async_hooks'
import type { ServerResponse } from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { memorySink, metrics, withMetrics, type MetricRecord } from '../../src/index.js'
import { attributedHooks } from '../../src/collect/cpu-attributed.js'
import { fetchText, httpServer, listen } from '../support/http.js'
import { until } from '../support/eventually.js'
import { burn, type Burn } from './cpu-scenario.js'
import { closeAll, flushSink } from '../../src/pipeline/registry.js'

/*
 * The attributed clock's switch hooks are on only while a request whose listener returned still has callbacks
 * to come (cpu-attributed.ts). Turned off when a request still needed them, a request's work after an await
 * would be billed to nobody: the tests below would see CpuTime ≈ 0 where a burn was.
 */

/** A gate a handler waits at until the test opens it. */
function gate(): { wait: Promise<void>, open: () => void } {
  let open: () => void = () => {}
  const wait = new Promise<void>((resolve) => { open = resolve })
  return { wait, open }
}

/** Waits until no request of an earlier test keeps the hooks on: the tests below count from none. */
async function noneWaiting(): Promise<void> {
  await until(() => attributedHooks().watching === 0, 'no request of an earlier test still waits')
}

/** The records of `route`, after a flush. */
async function recordsOf(sink: ReturnType<typeof memorySink>, route: string): Promise<MetricRecord[]> {
  await flushSink(sink)
  return sink.records().filter((r) => r.route === route)
}

test('the hooks are off after a request that ended its response before returning, on while one waits', async () => {
  const sink = memorySink()
  const held = gate()
  let entered = false
  const { url, close } = await listen(
    httpServer(withMetrics(async (req, res) => {
      metrics.route(req.url === '/wait' ? 'wait' : 'sync')
      if (req.url === '/wait') {
        entered = true
        await held.wait
      }
      res.end('ok')
    }, { sink })),
  )
  try {
    await noneWaiting()
    await fetchText(`${url}/sync`)
    assert.equal(attributedHooks(), { on: false, watching: 0 }, 'after a synchronous request')
    const waiting = fetchText(`${url}/wait`)
    await until(() => entered, 'the waiting request reached its handler')
    assert.equal(attributedHooks(), { on: true, watching: 1 }, 'while a request waits')
    await fetchText(`${url}/sync`)
    assert.equal(attributedHooks(), { on: true, watching: 1 }, 'a synchronous request while another waits')
    held.open()
    await waiting
    assert.is(attributedHooks().watching, 0, 'the waiting request ended')
    await fetchText(`${url}/sync`)
    assert.equal(attributedHooks(), { on: false, watching: 0 }, 'the next synchronous request')
  } finally {
    held.open()
    await close()
  }
  assert.is((await recordsOf(sink, 'wait')).length, 1)
})

/*
 * On Node 24, V8 gives an `await` the promise its hook needs only when a promise hook is installed as the
 * `await` runs: with the V8 hook turned off and on like the `before` hook, the request's `await` below, made
 * while the hooks were off and resumed from the test's code, ran its burn with no switch, billed to no one.
 */
test('a waiting request is billed its burn while synchronous requests come and go around it', async () => {
  const sink = memorySink()
  const held = gate()
  let entered = false
  let late: Burn | undefined
  const own = new Map<string, Burn>()
  const { url, close } = await listen(
    httpServer(withMetrics(async (req, res) => {
      metrics.route(req.url!.slice(1)) // named explicitly: the test is not about naming
      metrics.dimension('rid', String(req.headers['x-id']))
      if (req.url === '/late') {
        entered = true
        await held.wait
        late = burn(20)
      } else {
        own.set(String(req.headers['x-id']), burn(2))
      }
      res.end('ok')
    }, { sink })),
  )
  try {
    await noneWaiting()
    await fetchText(`${url}/warm`, { headers: { 'x-id': 'warm' } })
    assert.is(attributedHooks().on, false, 'the waiting request awaits with the hooks off')
    const waiting = fetchText(`${url}/late`, { headers: { 'x-id': 'late' } })
    await until(() => entered, 'the waiting request reached its handler')
    for (let i = 0; i < 5; i++) await fetchText(`${url}/sync`, { headers: { 'x-id': String(i) } })
    held.open()
    await waiting
    for (let i = 5; i < 10; i++) await fetchText(`${url}/sync`, { headers: { 'x-id': String(i) } })
  } finally {
    held.open()
    await close()
  }
  const [record] = await recordsOf(sink, 'late')
  const cpu = record!.timers.CpuTime!
  assert.ok(cpu >= late!.thread * 0.75 && cpu <= late!.process * 1.25 + 1, `CpuTime ${cpu} ms for a ${JSON.stringify(late)} burn`)
  const synced = await recordsOf(sink, 'sync')
  assert.is(synced.length, 10)
  for (const r of synced) {
    const c = r.timers.CpuTime!
    const mine = own.get(r.dimensions.rid!)!
    // Its 2 ms burn plus the handler around it; never the waiting request's 20 ms.
    assert.ok(c >= mine.thread * 0.75 && c < 10, `a synchronous request billed ${c} ms for a ${JSON.stringify(mine)} burn`)
  }
  await until(() => attributedHooks().watching === 0, 'every request ended')
})

test('a block started after the handler ended its response, before it finished, is billed its own CPU', async () => {
  const sink = memorySink()
  let block: Burn | undefined
  let around = 0
  let unfinished: boolean | undefined
  let done: () => void = () => {}
  const ran = new Promise<void>((resolve) => { done = resolve })
  // 32 MB cannot all go into a loopback socket at once: 'finish' waits for the client to read it.
  const body = Buffer.alloc(32 * 1024 * 1024, 120)
  const { url, close } = await listen(
    httpServer(withMetrics((req, res: ServerResponse) => {
      metrics.route(req.url!.slice(1))
      res.end(body)
      if (req.url !== '/x') return
      setImmediate(() => {
        unfinished = !res.writableFinished
        // The bounds: at least the burn's thread CPU, at most the process CPU across the whole block (a
        // collection of the 32 MB may land in it, outside the burn).
        const before = process.cpuUsage()
        metrics.timed('late', () => { block = burn(10) })
        const used = process.cpuUsage(before)
        around = (used.user + used.system) / 1000
        done()
      })
    }, { sink })),
  )
  try {
    await fetchText(`${url}/warm`)
    await fetchText(`${url}/x`)
    await ran
  } finally {
    await close()
  }
  assert.ok(unfinished, 'the response had finished before the block: this test needs it unfinished')
  // Its 'finish' (or the connection's 'close') may come after the client has read the last byte, and only then
  // is its record made: the block made it live again, so it is watched until then.
  await until(() => attributedHooks().watching === 0, 'the request ended')
  const [record] = await recordsOf(sink, 'x')
  assert.ok(record?.timers['late.cpu'] !== undefined, `no late.cpu on x: ${JSON.stringify(sink.records().map((r) => [r.route, r.timers]))}`)
  const cpu = record.timers['late.cpu']
  assert.ok(
    cpu >= block!.thread * 0.75 && cpu <= around * 1.25 + 1,
    `late.cpu ${cpu} ms for a ${JSON.stringify(block)} burn in ${around} ms`,
  )
})

test('a block that outlives its response keeps the hooks on until it ends, and is billed its own CPU', async () => {
  // The block ends after its request's record: its timers go to the process record, which the first live
  // wrapper ships. Closing the earlier tests' wrappers makes it this one's.
  await closeAll(1000)
  const sink = memorySink()
  let block: Burn | undefined
  let around = 0
  const held = gate()
  let blockDone: Promise<void> = Promise.resolve()
  const { url, close } = await listen(
    httpServer(withMetrics((_req, res: ServerResponse) => {
      blockDone = metrics.timed('background', async () => {
        await held.wait // opened by the test, outside any request
        const woke = process.cpuUsage()
        block = burn(10)
        const used = process.cpuUsage(woke)
        around = (used.user + used.system) / 1000
      })
      res.end('ok')
    }, { sink })),
  )
  try {
    await noneWaiting()
    await fetchText(`${url}/x`)
    assert.equal(attributedHooks(), { on: true, watching: 1 }, 'the response ended, its block still runs')
    held.open()
    await blockDone
    assert.is(attributedHooks().watching, 0, 'the block ended')
  } finally {
    held.open()
    await blockDone
    await close()
  }
  await flushSink(sink)
  const timers = sink.records().find((r) => r.timers['background.cpu'] !== undefined)!.timers
  const cpu = timers['background.cpu']!
  // The bounds: at least the burn's thread CPU, at most the process CPU from the block's wake-up to its end,
  // plus 1 ms for what ran of the block before (its reaction) and the request's callbacks while it waited.
  assert.ok(
    cpu >= block!.thread * 0.75 && cpu <= around * 1.25 + 1,
    `background.cpu ${cpu} ms for a ${JSON.stringify(block)} burn in ${around} ms`,
  )
})

test('a waiting request whose client goes away no longer keeps the hooks on', async () => {
  const held = gate()
  let entered = false
  const { url, close } = await listen(
    httpServer(withMetrics(async (_req, res) => {
      entered = true
      await held.wait
      if (!res.destroyed) res.end('late')
    }, { sink: memorySink() })),
  )
  try {
    await noneWaiting()
    const abort = new AbortController()
    const request = fetch(`${url}/gone`, { signal: abort.signal }).catch(() => undefined)
    await until(() => entered, 'the request reached its handler')
    assert.is(attributedHooks().watching, 1)
    abort.abort()
    await request
    await until(() => attributedHooks().watching === 0, 'the aborted request stopped being watched')
  } finally {
    held.open()
    await close()
  }
})

/** A function bound outside any request, as a pool built at startup binds its callbacks. */
const outsideWork = new AsyncResource('startup-pool').bind((ms: number) => burn(ms))

/*
 * A bound function runs, and is billed, as the context it was bound in (README, "CpuTime, precisely"). With the
 * hooks off no `before` marks its entry; without the wrapper's own switch there, the listener that called it was
 * billed its 10 ms.
 */
test('a bound function called by a listener is billed to its own context, with the hooks off or on', async () => {
  const sink = memorySink()
  const held = gate()
  const own = new Map<string, { mine: Burn, hooksOn: boolean }>()
  const { url, close } = await listen(
    httpServer(withMetrics(async (req, res) => {
      metrics.route(req.url!.slice(1))
      if (req.url === '/wait') {
        await held.wait
      } else {
        metrics.dimension('rid', String(req.headers['x-id']))
        const hooksOn = attributedHooks().on
        outsideWork(10)
        own.set(String(req.headers['x-id']), { mine: burn(2), hooksOn })
      }
      res.end('ok')
    }, { sink })),
  )
  try {
    await noneWaiting()
    await fetchText(`${url}/call`, { headers: { 'x-id': 'warm' } })
    await fetchText(`${url}/call`, { headers: { 'x-id': 'off' } })
    const waiting = fetchText(`${url}/wait`)
    await until(() => attributedHooks().watching === 1, 'a request waits')
    await fetchText(`${url}/call`, { headers: { 'x-id': 'on' } })
    held.open()
    await waiting
  } finally {
    held.open()
    await close()
  }
  assert.is(own.get('off')!.hooksOn, false)
  assert.is(own.get('on')!.hooksOn, true)
  const records = await recordsOf(sink, 'call')
  for (const id of ['off', 'on']) {
    const c = records.find((r) => r.dimensions.rid === id)!.timers.CpuTime!
    const { mine } = own.get(id)!
    assert.ok(c >= mine.thread * 0.75 && c < mine.process * 1.25 + 3, `hooks ${id}: CpuTime ${c} ms for its own ${JSON.stringify(mine)}`)
  }
})

test.run()
