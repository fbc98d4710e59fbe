import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { formatSummary, summarize } from '../examples/demo/summary.js'
import type { MetricRecord } from 'routemeter'

const run = promisify(execFile)

const root = join(__dirname, '..')

// As `npm start` runs it (tsx, from the project root), against the build: the demo imports 'routemeter',
// which the package's own `exports` resolve to dist/.
test('npm start runs the demo: a real load, then a per-route table of what was recorded', async () => {
  const main = join(root, 'examples', 'demo', 'main.ts')
  const args = ['--import', 'tsx', main, '--requests', '400', '--concurrency', '8']
  const { stdout } = await run(process.execPath, args, { cwd: root, timeout: 60_000 })
  assert.match(stdout, /400 requests recorded/)
  for (const route of ['users.id', 'orders.id', 'checkout', 'report', 'slow', 'unmatched', 'root']) {
    assert.match(stdout, new RegExp(`^${route.replace('.', '\\.')}\\s+\\d+`, 'm'), route)
  }
  assert.match(stdout, /db\.orders, db\.orders\.cpu/)
})

test('summarize computes counts, percentiles and rates per route', () => {
  const r = (route: string, ms: number, failure: number, clientError: number): MetricRecord => ({
    kind: 'request', prefix: '', route, method: 'GET', status: 200, aborted: false, dimensions: {},
    counters: { Failure: failure, ClientError: clientError, Aborted: 0, hits: 1 },
    timers: { RequestTime: ms, CpuTime: ms / 2 },
    timestamp: 0,
  })
  const rows = summarize([r('a', 1, 0, 0), r('a', 3, 1, 0), r('a', 2, 0, 1), r('a', 4, 0, 0), r('b', 10, 0, 0)])
  assert.equal(rows.map((x) => [x.route, x.count, x.p50, x.p99, x.cpuMean, x.failureRate, x.clientErrorRate, x.appMetrics]), [
    ['a', 4, 2, 4, 1.25, 0.25, 0.25, ['hits']],
    ['b', 1, 10, 10, 5, 0, 0, ['hits']],
  ])
  assert.match(formatSummary(rows), /^route\s+count/)
})

test.run()
