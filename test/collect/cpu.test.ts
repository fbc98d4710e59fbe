import http from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { memorySink, metrics, withMetrics, type MetricRecord } from '../../src/index.js'
import { fetchText, listen } from '../support/http.js'

/*
 * A burn is a fixed amount of work, calibrated once to take about `ms` on this machine (the fastest of several
 * timed runs, i.e. the run nobody preempted). Defining it by wall time would bill preemption to it, and by
 * process CPU would count GC and JIT threads running beside it; a fixed loop costs the same thread CPU each time.
 */
function spin(iterations: number): number {
  let x = 0
  for (let i = 0; i < iterations; i++) x += Math.sqrt(i)
  return x
}
const ITERATIONS_PER_MS = (() => {
  const probe = 200_000
  for (let i = 0; i < 5; i++) spin(probe) // let V8 optimise the loop before timing it
  let best = Infinity
  for (let i = 0; i < 15; i++) {
    const start = performance.now()
    spin(probe)
    best = Math.min(best, performance.now() - start)
  }
  return probe / best
})()
function burn(ms: number): void {
  spin(Math.round(ms * ITERATIONS_PER_MS))
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function app(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (req.url === '/burn') burn(20)
  else if (req.url === '/sleep') await sleep(20)
  else if (req.url === '/await-burn') {
    await sleep(10)
    burn(20)
  }
  res.end('done')
}

function cpuOf(records: MetricRecord[], route: string): number[] {
  return records.filter((r) => r.route === route).map((r) => r.timers.CpuTime!)
}

test("attributed CpuTime tells each request's own CPU under 60 concurrent requests", async () => {
  const sink = memorySink()
  const { url, close } = await listen(http.createServer(withMetrics(app, { sink })))
  // Warm-up: let V8 optimise the burn loop first; its background compiler's CPU is not the request's.
  for (let i = 0; i < 5; i++) await Promise.all(['/burn', '/sleep', '/await-burn'].map((p) => fetchText(url + p)))
  await sink.flush()
  sink.clear()
  const paths = Array.from({ length: 20 }, () => ['/burn', '/sleep', '/await-burn']).flat()
  await Promise.all(paths.map((p) => fetchText(url + p)))
  await sink.flush()
  await close()
  const records = sink.records()
  assert.is(records.length, 60)
  const burners = [...cpuOf(records, 'burn'), ...cpuOf(records, 'await-burn')]
  const sleepers = cpuOf(records, 'sleep')
  assert.is(burners.length, 40)
  for (const cpu of burners) assert.ok(cpu >= 15 && cpu <= 25, `a 20 ms burner reported ${cpu.toFixed(2)} ms: ${burners.map((c) => c.toFixed(1)).join(' ')}`)
  for (const cpu of sleepers) assert.ok(cpu < 2, `a sleeper reported ${cpu.toFixed(2)} ms: ${sleepers.map((c) => c.toFixed(2)).join(' ')}`)
})

test('window CpuTime is the process CPU between entry and end: exact for one request at a time', async () => {
  const sink = memorySink()
  const { url, close } = await listen(http.createServer(withMetrics(app, { sink, cpu: 'window' })))
  for (let i = 0; i < 3; i++) await fetchText(`${url}/burn`)
  await sink.flush()
  await close()
  for (const cpu of cpuOf(sink.records(), 'burn')) assert.ok(cpu >= 19 && cpu <= 30, `window burner reported ${cpu}`)
})

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

test('metrics.timed charges a block its own CPU in attributed mode, even when the request also sleeps', async () => {
  const sink = memorySink()
  const { url, close } = await listen(
    http.createServer(withMetrics(async (_req, res) => {
      await metrics.timed('work', async () => {
        await sleep(15)
        burn(10)
      })
      res.end()
    }, { sink })),
  )
  await fetchText(`${url}/x`)
  await sink.flush()
  await close()
  const t = sink.records()[0]!.timers
  assert.ok(t.work! >= 24, `wall ${t.work}`)
  assert.ok(t['work.cpu']! >= 7 && t['work.cpu']! <= 14, `cpu ${t['work.cpu']}`)
})

test.run()
