import http from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { memorySink, metrics, withMetrics, type MetricRecord } from '../../src/index.js'
import { fetchText, listen } from '../support/http.js'
import { recorded } from '../support/records.js'
import { sleep, until } from '../support/eventually.js'
import { attributedHooks } from '../../src/collect/cpu-attributed.js'

/** The request record of one GET /x through `handler`, in a one-element array. */
async function one(handler: (req: http.IncomingMessage, res: http.ServerResponse) => unknown): Promise<MetricRecord[]> {
  const sink = memorySink()
  const { url, close } = await listen(http.createServer(withMetrics(handler, { sink })))
  await fetchText(`${url}/x`)
  // Metrics outside a request ride on the first live wrapper's flush: this sink may get a process record too.
  const requests = (await recorded(sink, 1)).filter((r) => r.kind === 'request')
  await close()
  assert.is(requests.length, 1)
  return requests
}

/**
 * What the timers of a block `name` that took `spanMs` (measured around the `metrics.timed` call) can be known
 * to be: its wall time in (0, spanMs]; its CPU not negative and part of the request's.
 */
function assertTimed(r: MetricRecord, name: string, spanMs: number): void {
  const wall = r.timers[name]!
  const cpu = r.timers[`${name}.cpu`]!
  assert.ok(wall > 0 && wall <= spanMs, `${name}: ${wall} ms for a call of ${spanMs} ms`)
  assert.ok(cpu >= 0 && cpu <= r.timers.CpuTime!, `${name}.cpu: ${cpu} ms in a request of ${r.timers.CpuTime} ms CPU`)
  assert.ok(cpu <= wall, `${name}.cpu: ${cpu} ms of one thread's CPU in ${wall} ms of wall time`)
}

test('count adds up repeated counts of a name, default 1', async () => {
  const [r] = await one((_req, res) => {
    metrics.count('hits')
    metrics.count('hits', 2)
    metrics.count('bytes', 512)
    res.end()
  })
  assert.is(r!.counters.hits, 3)
  assert.is(r!.counters.bytes, 512)
})

test('timing adds up repeated timings of a name', async () => {
  const [r] = await one((_req, res) => {
    metrics.timing('db', 2.5)
    metrics.timing('db', 1.5)
    res.end()
  })
  assert.is(r!.timers.db, 4)
})

test('timed returns what a sync fn returns and records wall and cpu timers', async () => {
  let got: unknown
  let span = 0
  const [r] = await one((_req, res) => {
    const started = performance.now()
    got = metrics.timed('calc', () => 41 + 1)
    span = performance.now() - started
    res.end()
  })
  assert.is(got, 42)
  assert.equal(Object.keys(r!.timers).sort(), ['CpuTime', 'RequestTime', 'calc', 'calc.cpu'])
  assertTimed(r!, 'calc', span)
})

test("a block's attributed CPU is never more than its wall time nor below zero (100 short blocks in one request)", async () => {
  // 100 blocks: 200 names, within what one request holds.
  const [r] = await one((_req, res) => {
    for (let i = 0; i < 100; i++) {
      metrics.timed(`b${i}`, () => { let x = 0; for (let k = 0; k < 200 * (i % 7); k++) x += k; return x })
    }
    res.end()
  })
  for (let i = 0; i < 100; i++) {
    const wall = r!.timers[`b${i}`]!
    const cpu = r!.timers[`b${i}.cpu`]!
    assert.ok(cpu >= 0 && cpu <= wall, `b${i}: ${cpu} ms CPU in ${wall} ms`)
  }
})

test('timed re-throws what a sync fn throws and still records the block', async () => {
  const boom = new Error('x')
  let caught: unknown
  let span = 0
  const [r] = await one((_req, res) => {
    const started = performance.now()
    try {
      metrics.timed('bad', () => {
        throw boom
      })
    } catch (error) {
      caught = error
    }
    span = performance.now() - started
    res.end()
  })
  assert.is(caught, boom)
  assertTimed(r!, 'bad', span)
})

test('timed resolves and rejects as an async fn does and records the block both ways', async () => {
  let value: unknown
  let reason: unknown
  const boom = new Error('async')
  const spans = { ok: 0, fails: 0, slept: 0 }
  const [r] = await one(async (_req, res) => {
    let started = performance.now()
    value = await metrics.timed('ok', async () => {
      const before = performance.now()
      await sleep(12) // the block waits: its wall time must include the wait, until its promise settles
      spans.slept = performance.now() - before
      return 'v'
    })
    spans.ok = performance.now() - started
    started = performance.now()
    reason = await metrics.timed('fails', async () => {
      throw boom
    }).catch((e: unknown) => e)
    spans.fails = performance.now() - started
    res.end()
  })
  assert.is(value, 'v')
  assert.is(reason, boom)
  assertTimed(r!, 'ok', spans.ok)
  assert.ok(r!.timers.ok! >= spans.slept, `ok ${r!.timers.ok} ms for a wait of ${spans.slept} ms`)
  assertTimed(r!, 'fails', spans.fails)
})

test('timed hands back a value whose `then` cannot be read or throws, records the block once and lets the request go', async () => {
  const unreadable = new Proxy({}, { get() { throw new Error('no property of mine may be read') } })
  const throwing = { then(ok: () => void) { ok(); throw new Error('then() throws after calling back') } }
  const got: unknown[] = []
  const [r] = await one((_req, res) => {
    got.push(metrics.timed('unreadable', () => unreadable), metrics.timed('throwing', () => throwing))
    res.end()
  })
  assert.is(got[0], unreadable)
  assert.is(got[1], throwing)
  assert.ok(r!.timers.unreadable! >= 0 && r!.timers.throwing! >= 0, JSON.stringify(r!.timers))
  // A block still open would keep the request's callbacks watched for ever.
  await until(() => attributedHooks().watching === 0, 'no request left watched')
})

test('route() wins over the path; dimension() tags the request', async () => {
  const [r] = await one((_req, res) => {
    metrics.route('checkout')
    metrics.dimension('plan', 'pro')
    metrics.dimension('retries', 2)
    res.end()
  })
  assert.is(r!.route, 'checkout')
  assert.equal(r!.dimensions, { plan: 'pro', retries: '2' })
})

test('bad names and values never throw: they are dropped, counted and leave the rest intact', async () => {
  const before = metrics.stats().dropped
  const [r] = await one((_req, res) => {
    metrics.count('', 1)
    metrics.count('x'.repeat(500))
    metrics.count('nan', NaN)
    metrics.count('inf', Infinity)
    metrics.count('str', '3' as unknown as number)
    metrics.timing('neg', -1)
    metrics.timing(undefined as unknown as string, 1)
    metrics.count('Failure')
    metrics.dimension('', 'x')
    metrics.dimension('obj', {} as unknown as string)
    metrics.route('')
    metrics.timed('notfn', 5 as unknown as () => void)
    metrics.count('fine')
    res.end()
  })
  const after = metrics.stats().dropped
  const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0)
  assert.equal(Object.keys(r!.counters).sort(), ['Aborted', 'ClientError', 'Failure', 'fine'])
  assert.is(r!.counters.Failure, 0)
  assert.equal(Object.keys(r!.timers), ['RequestTime', 'CpuTime'])
  assert.is(delta('name'), 6)
  assert.is(delta('value'), 6)
})

test('names that normalise to a standard metric are refused at the door, counted as name drops', async () => {
  const before = metrics.stats().dropped.name ?? 0
  const [r] = await one((_req, res) => {
    metrics.count('.Failure', 1)
    metrics.count('Aborted..', 1)
    metrics.timing('RequestTime.', 5)
    metrics.timing('..CpuTime', 5)
    metrics.count('Failure.rate', 1)
    res.end()
  })
  assert.equal(Object.keys(r!.counters).sort(), ['Aborted', 'ClientError', 'Failure', 'Failure.rate'])
  assert.equal(Object.keys(r!.timers).sort(), ['CpuTime', 'RequestTime'])
  assert.is(r!.counters.Failure, 0)
  assert.is((metrics.stats().dropped.name ?? 0) - before, 4)
})

test('names and dimension keys with control characters or nothing visible are refused, counted', async () => {
  const before = metrics.stats().dropped.name ?? 0
  const [r] = await one((_req, res) => {
    metrics.count(' ')
    metrics.count('\0')
    metrics.timing('a\nb', 1)
    metrics.count('lone\uD800')
    metrics.dimension('k\n', 'x')
    metrics.dimension('k\r', 'y')
    metrics.dimension('\t', 'z')
    metrics.dimension('tenant', 'acme')
    metrics.count('ok é')
    res.end()
  })
  assert.equal(Object.keys(r!.counters).sort(), ['Aborted', 'ClientError', 'Failure', 'ok é'])
  assert.equal(Object.keys(r!.timers).sort(), ['CpuTime', 'RequestTime'])
  assert.equal(r!.dimensions, { tenant: 'acme' })
  assert.is((metrics.stats().dropped.name ?? 0) - before, 7)
})

test('values beyond ±1e15 are refused at the door, so no sum can overflow to Infinity', async () => {
  const before = metrics.stats().dropped.value ?? 0
  const [r] = await one((_req, res) => {
    metrics.timing('t', 1e306)
    metrics.count('c', 1e308)
    metrics.count('c', 1e308)
    metrics.count('neg', -1e16)
    metrics.count('edge', 1e15)
    metrics.count('edge', -1e15)
    metrics.timing('edge.t', 1e15)
    res.end()
  })
  assert.is(r!.timers.t, undefined)
  assert.is(r!.counters.c, undefined)
  assert.is(r!.counters.neg, undefined)
  assert.is(r!.counters.edge, 0)
  assert.is(r!.timers['edge.t'], 1e15)
  assert.is((metrics.stats().dropped.value ?? 0) - before, 4)
})

test('names equal to Object.prototype keys are kept as ordinary names', async () => {
  const [r] = await one((_req, res) => {
    metrics.count('__proto__', 2)
    metrics.count('constructor')
    metrics.timing('__proto__', 3)
    metrics.timing('hasOwnProperty', 4)
    metrics.dimension('__proto__', 'p')
    metrics.dimension('toString', 't')
    res.end()
  })
  assert.ok(Object.hasOwn(r!.counters, '__proto__'), 'counter __proto__ is an own key')
  assert.is(Object.getOwnPropertyDescriptor(r!.counters, '__proto__')?.value, 2)
  assert.is(Object.getOwnPropertyDescriptor(r!.timers, '__proto__')?.value, 3)
  assert.is(r!.counters.constructor as unknown, 1)
  assert.is(r!.timers.hasOwnProperty as unknown, 4)
  assert.equal(Object.keys(r!.dimensions).sort(), ['__proto__', 'toString'])
  assert.is(Object.getOwnPropertyDescriptor(r!.dimensions, '__proto__')?.value, 'p')
  assert.is(Object.getPrototypeOf(r!.counters), Object.prototype, 'records stay plain objects')
})

test('dimension names inherited from Object.prototype still count against the dimension limit', async () => {
  const before = metrics.stats().dropped.limit ?? 0
  const [r] = await one((_req, res) => {
    for (let i = 0; i < 32; i++) metrics.dimension(`d${i}`, 'x')
    metrics.dimension('toString', 'over')
    metrics.dimension('__proto__', 'over')
    res.end()
  })
  assert.is(Object.keys(r!.dimensions).length, 32)
  assert.not.ok(Object.hasOwn(r!.dimensions, 'toString'))
  assert.is((metrics.stats().dropped.limit ?? 0) - before, 2)
})

test('values whose String() throws are dropped without throwing', async () => {
  const hostile = Object.create(null) as unknown
  const throwing = { toString() { throw new Error('no') } } as unknown
  const [r] = await one((_req, res) => {
    metrics.count(hostile as string)
    metrics.count('x', hostile as number)
    metrics.timing('y', throwing as number)
    metrics.dimension('z', hostile as string)
    metrics.timed(hostile as string, 5 as unknown as () => void)
    metrics.count('ok')
    res.end()
  })
  assert.equal(r!.counters, { ok: 1, Failure: 0, ClientError: 0, Aborted: 0 })
  assert.equal(Object.keys(r!.timers).sort(), ['CpuTime', 'RequestTime'])
  assert.equal(r!.dimensions, {})
})

test('a request holds a bounded number of metric names', async () => {
  const before = metrics.stats().dropped.limit ?? 0
  const [r] = await one((_req, res) => {
    for (let i = 0; i < 1000; i++) metrics.count(`n${i}`)
    res.end()
  })
  assert.is(Object.keys(r!.counters).length, 256 + 3)
  assert.is((metrics.stats().dropped.limit ?? 0) - before, 1000 - 256)
})

test('outside a request, metrics go to a process record shipped with the next flush of the first live wrapper', async () => {
  await metrics.close() // forget earlier wrappers, so this test's is the first live one
  const sink = memorySink()
  const { url, close } = await listen(http.createServer(withMetrics((_req, res) => res.end(), { sink })))
  metrics.count('jobs.done', 2)
  metrics.count('jobs.done')
  metrics.timing('job', 3)
  const started = performance.now()
  assert.is(metrics.timed('startup', () => 7), 7)
  const span = performance.now() - started
  await fetchText(url)
  await metrics.flush()
  await close()
  assert.equal(sink.records().map((r) => r.kind).sort(), ['process', 'request'])
  const processRecord = sink.records().find((r) => r.kind === 'process')!
  assert.equal([processRecord.route, processRecord.method, processRecord.status], ['', '', 0])
  assert.is(processRecord.counters['jobs.done'], 3)
  assert.equal(Object.keys(processRecord.timers).sort(), ['job', 'startup', 'startup.cpu'])
  assert.is(processRecord.timers.job, 3)
  const startup = processRecord.timers.startup!
  assert.ok(startup > 0 && startup <= span, `startup ${startup} ms for a call of ${span} ms`)
  assert.ok(processRecord.timers['startup.cpu']! >= 0, `startup.cpu ${processRecord.timers['startup.cpu']}`)
})

test('metrics after the response ended go to the process collector instead of being lost', async () => {
  let late!: () => void
  const done = new Promise<void>((r) => (late = r))
  await metrics.close()
  const sink = memorySink()
  const { url, close } = await listen(
    http.createServer(withMetrics((_req, res) => {
      res.end()
      // Well after the record was written: the request's context still travels with the timer.
      res.on('finish', () =>
        setTimeout(() => {
          metrics.count('after.end')
          late()
        }, 5),
      )
    }, { sink })),
  )
  await fetchText(url)
  await done
  await until(async () => { await metrics.flush(); return sink.records().some((r) => r.kind === 'process') }, 'the process record')
  await close()
  const request = sink.records().find((r) => r.kind === 'request')
  const processRecord = sink.records().find((r) => r.kind === 'process')
  assert.is(request!.counters['after.end'], undefined)
  assert.is(processRecord?.counters['after.end'], 1)
})

test('dimension() and route() outside a request are ignored: they touch no request and no process record', async () => {
  await metrics.close()
  const sink = memorySink()
  const { url, close } = await listen(http.createServer(withMetrics((_req, res) => res.end(), { sink })))
  metrics.dimension('outside', 'b')
  metrics.route('outside-route')
  await fetchText(`${url}/inside`)
  await metrics.flush()
  await close()
  assert.equal(sink.records().map((r) => [r.kind, r.route, r.dimensions]), [['request', 'inside', {}]])
})

test.run()
