import http from 'node:http'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { memorySink, metrics, withMetrics, type MetricRecord } from '../../src/index.js'
import { fetchText, listen } from '../support/http.js'

/*
 * A burn is a fixed amount of work calibrated to take about `ms`. What it really cost is measured around the
 * call itself: the smaller of its wall time (inflated when the OS preempts the thread) and the process CPU
 * across it (inflated when GC or JIT threads run beside it) is the best view of its thread CPU we have, and
 * that is what the request's attributed CpuTime must match.
 */
function spin(iterations: number): number {
  let x = 0
  for (let i = 0; i < iterations; i++) x += Math.sqrt(i)
  return x
}
const ITERATIONS_PER_MS = (() => {
  const probe = 200_000
  let best = Infinity
  for (let i = 0; i < 30; i++) {
    const start = performance.now()
    spin(probe)
    best = Math.min(best, performance.now() - start)
  }
  return probe / best
})()
/** Burns about `ms`; returns what it cost, in ms. */
function burn(ms: number): number {
  const wall = performance.now()
  const cpu = process.cpuUsage()
  spin(Math.round(ms * ITERATIONS_PER_MS))
  const used = process.cpuUsage(cpu)
  return Math.min(performance.now() - wall, (used.user + used.system) / 1000)
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The burn each request did, by request id (the `x-id` header, echoed as the `rid` dimension). */
const burned = new Map<string, number>()

async function app(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const id = String(req.headers['x-id'] ?? '')
  metrics.dimension('rid', id || '-')
  if (req.url === '/burn') burned.set(id, burn(20))
  else if (req.url === '/sleep') await sleep(20)
  else if (req.url === '/await-burn') {
    await sleep(10)
    burned.set(id, burn(20))
  }
  res.end('done')
}

// A garbage collection pauses the thread inside whichever callback's allocation triggered it, and that
// request is billed for it (it is time on the thread). With 60 requests and a test runner in one process
// the pause lands on the same request every run; collecting before the burst keeps this test about
// attribution rather than about where V8 happens to collect.
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

/*
 * These are measurements on a shared 2-core machine (CI, other builds): a preemption or a GC step can land on
 * one request of one run. A scenario passes when one of three runs meets the bound; a wrong attribution
 * fails all three (a before/after window, for instance, bills every sleeper tens of milliseconds). Each
 * failed attempt's message is printed, so a flake is visible in the log.
 */
async function inOneOfThree(name: string, scenario: () => Promise<void>): Promise<void> {
  const failures: string[] = []
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await scenario()
      if (failures.length > 0) console.error(`[cpu] ${name}: passed on attempt ${attempt} after: ${failures.join(' | ')}`)
      return
    } catch (error) {
      failures.push((error as Error).message)
    }
  }
  throw new Error(`${name}: failed 3 times: ${failures.join(' | ')}`)
}

function cpuOf(records: MetricRecord[], route: string): number[] {
  return records.filter((r) => r.route === route).map((r) => r.timers.CpuTime!)
}

test("attributed CpuTime tells each request's own CPU under 60 concurrent requests", () =>
  inOneOfThree("attributed CpuTime tells each request's own CPU under 60 concurrent requests", async () => {
    const sink = memorySink()
    const { url, close } = await listen(http.createServer(withMetrics(app, { sink })))
    // Warm-up: let V8 optimise the burn loop first; its background compiler's CPU is not the request's.
    for (let i = 0; i < 5; i++) await Promise.all(['/burn', '/sleep', '/await-burn'].map((p) => fetchText(url + p)))
    await sink.flush()
    sink.clear()
    collectGarbage()
    const paths = Array.from({ length: 20 }, () => ['/burn', '/sleep', '/await-burn']).flat()
    await Promise.all(paths.map((p, i) => fetchText(url + p, { headers: { 'x-id': String(i) } })))
    await sink.flush()
    await close()
    const records = sink.records()
    assert.is(records.length, 60)
    const burners = records.filter((r) => r.route !== 'sleep')
    const sleepers = cpuOf(records, 'sleep')
    assert.is(burners.length, 40)
    const table = burners.map((r) => `${r.timers.CpuTime!.toFixed(1)}/${burned.get(r.dimensions.rid!)!.toFixed(1)}`).join(' ')
    for (const r of burners) {
      const own = burned.get(r.dimensions.rid!)!
      assert.ok(own > 10, `the burn took ${own} ms`)
      const cpu = r.timers.CpuTime!
      assert.ok(cpu >= own * 0.75 && cpu <= own * 1.25, `a burner reported ${cpu.toFixed(2)} ms for a ${own.toFixed(2)} ms burn (reported/burned: ${table})`)
    }
    for (const cpu of sleepers) assert.ok(cpu < 2, `a sleeper reported ${cpu.toFixed(2)} ms: ${sleepers.map((c) => c.toFixed(2)).join(' ')}`)
  }),
)

test('window CpuTime is the process CPU between entry and end: exact for one request at a time', () =>
  inOneOfThree('window CpuTime is the process CPU between entry and end: exact for one request at a time', async () => {
    const sink = memorySink()
    const { url, close } = await listen(http.createServer(withMetrics(app, { sink, cpu: 'window' })))
    for (let i = 0; i < 3; i++) await fetchText(`${url}/burn`, { headers: { 'x-id': `w${i}` } })
    await sink.flush()
    await close()
    for (const r of sink.records()) {
      const own = burned.get(r.dimensions.rid!)!
      assert.ok(r.timers.CpuTime! >= own * 0.9 && r.timers.CpuTime! <= own * 1.5 + 1, `window burner reported ${r.timers.CpuTime} for ${own}`)
    }
  }),
)

test('cpu: false records no CpuTime and no .cpu timers', async () => {
  const sink = memorySink()
  const { url, close } = await listen(
    http.createServer(withMetrics((_req, res) => {
      metrics.timed('block', () => burn(1))
      res.end()
    }, { sink, cpu: false })),
  )
  await fetchText(`${url}/x`)
  await sink.flush()
  await close()
  const [r] = sink.records()
  assert.equal(Object.keys(r!.timers).sort(), ['RequestTime', 'block'])
})

test('metrics.timed charges a block its own CPU in attributed mode, even when the request also sleeps', () =>
  inOneOfThree('metrics.timed charges a block its own CPU in attributed mode, even when the request also sleeps', async () => {
    const sink = memorySink()
    let own = 0
    const { url, close } = await listen(
      http.createServer(withMetrics(async (_req, res) => {
        await metrics.timed('work', async () => {
          await sleep(15)
          own = burn(10)
        })
        res.end()
      }, { sink })),
    )
    await fetchText(`${url}/x`)
    await sink.flush()
    await close()
    const t = sink.records()[0]!.timers
    assert.ok(t.work! >= 15 + own * 0.9, `wall ${t.work} for a 15 ms sleep and a ${own} ms burn`)
    assert.ok(t['work.cpu']! >= own * 0.75 && t['work.cpu']! <= own * 1.25 + 1, `cpu ${t['work.cpu']} for a ${own} ms burn`)
    assert.ok(t.CpuTime! >= t['work.cpu']!, 'the request used at least the CPU of its block')
  }),
)

test.run()
