import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT as root, runNode } from '../support/run-node.js'
import { REDIS, servicesAvailable } from '../support/services.js'

// bench/paired.mjs, the bench the CPU figures in README.md come from, must keep running: every contender it is
// asked for answers, is checked, and gets a row with its windows and a confidence interval. The Redis and
// StatsD rows send to receivers the bench starts itself: it once ran them with no receivers at all, so the
// Redis row wrote to whatever listened on 127.0.0.1:6379 and the StatsD row into a closed port, and nothing
// said so. Here those rows must have delivered every request to the bench's own redis-server (the check fails
// the run otherwise), and the `bare-redis` control's own entries must have reached it. It asserts nothing about
// speed. Needs a built dist/ (`pretest` builds it).

interface Row {
  server: string
  base: string
  route: string
  windows: number
  addedUsPerReq: number
  addedUsPerReqInterval: [number, number]
  addedUsPerReqWindows: number[]
}

/** A row of a `--count` run. */
interface CountedRow extends Row {
  rps: number
  cpuUsPerReq: number
  clockCallsPerReq: Record<string, number>
  clockCallsByCaller: Record<string, number>
}

/**
 * Runs bench/paired.mjs with `args` (and `--out` into a temporary directory), checks that it exited 0, and returns
 * what it printed and the results file.
 */
async function runPaired<T>(args: string[]): Promise<{ stdout: string, stderr: string, result: T }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routemeter-paired-test-'))
  const out = path.join(dir, 'paired.json')
  try {
    const { code, stdout, stderr } = await runNode(['bench/paired.mjs', ...args, '--out', out], { coverage: false, timeoutMs: 120_000 })
    assert.is(code, 0, `paired.mjs exited ${code}:\n${stderr.slice(-3000)}`)
    return { stdout, stderr, result: JSON.parse(fs.readFileSync(out, 'utf8')) as T }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const it = servicesAvailable('test/bench/paired.test.ts', [REDIS]) ? test : test.skip

it('bench/paired.mjs runs the Redis and StatsD rows against its own receivers and keeps every window', async () => {
  assert.ok(fs.existsSync(path.join(root, 'dist', 'index.js')), 'dist/index.js is missing: run npm run build first')
  const { stdout, stderr, result } = await runPaired<{ node: string, rows: Row[], received: Record<string, string[]> }>([
    '--only', 'bare-twin,bare-redis,bare-redis500-raw,rm-redis,rm-statsd', '--routes', 'tiny', '--windows', '6', '--window', '0.3',
    '--connections', '4',
  ])
  assert.match(stdout, /95 % CI of the median/)
  assert.match(stderr, /bare-redis: redis stream \S+ holds [1-9]\d* entries of the app's own/)
  // The raw-socket control's hand-written RESP was taken by redis-server as XADDs.
  assert.match(stderr, /bare-redis500-raw: redis stream \S+ holds [1-9]\d* entries of the app's own/)
  assert.is(result.node, process.version)
  // What each receiver held is kept beside the figures (a flush-count comparison reads it later).
  assert.match(result.received['rm-redis']?.[0] ?? '', /holds [1-9]\d* entries carrying [1-9]\d* records/)
  assert.match(result.received['rm-statsd']?.[0] ?? '', /UDP receiver got [1-9]\d* packets/)
  assert.equal(result.rows.map((r) => r.server).sort(), ['bare', 'bare-redis', 'bare-redis500-raw', 'bare-twin', 'rm-redis', 'rm-statsd'])
  for (const row of result.rows.filter((r) => r.server !== r.base)) {
    assert.is(row.windows, 6, `${row.server}: windows`)
    assert.is(row.addedUsPerReqWindows.length, 6, `${row.server}: every window kept`)
    const [lo, hi] = row.addedUsPerReqInterval
    // Six windows: the 95 % interval of the median runs from the smallest to the largest (1 − 2/64 ≥ 0.95).
    const sorted = [...row.addedUsPerReqWindows].sort((a, b) => a - b)
    // (The windows are kept to 3 decimals.)
    assert.ok(Math.abs(lo - sorted[0]!) < 0.001 && Math.abs(hi - sorted[5]!) < 0.001,
      `${row.server}: interval ${lo}…${hi}, windows ${sorted.join(' ')}`)
    assert.ok(lo <= row.addedUsPerReq && row.addedUsPerReq <= hi, `${row.server}: the median lies in its interval`)
  }
})

test('bench/paired.mjs --turns loads each server alone in turn and measures every one in every window', async () => {
  const { stdout, stderr, result } = await runPaired<{ turns: boolean, rows: CountedRow[] }>([
    '--only', 'bare-twin,rm-discard', '--routes', 'tiny', '--windows', '2', '--window', '0.3', '--connections', '4', '--turns', '--count',
  ])
  assert.match(stderr, /connections each, in turns/)
  assert.match(stdout, /Clock reads per request/)
  assert.is(result.turns, true)
  assert.equal(result.rows.map((r) => r.server).sort(), ['bare', 'bare-twin', 'rm-discard'])
  for (const row of result.rows) {
    // A load generator that did not resume after a pause would leave its server a window with no request.
    assert.ok(row.rps > 0 && Number.isFinite(row.cpuUsPerReq), `${row.server}: ${JSON.stringify(row)}`)
  }
  // The attributed clock reads its clocks on its own server's requests, and only there.
  const reads = (server: string) => result.rows.find((r) => r.server === server)!.clockCallsPerReq['now']!
  assert.ok(reads('rm-discard') > 0 && reads('bare') === 0, JSON.stringify(result.rows.map((r) => [r.server, r.clockCallsPerReq])))
  // And says who read them: on tiny, the recorder's start and end and the clock's entry and return, once a request.
  const byCaller = (server: string) => result.rows.find((r) => r.server === server)!.clockCallsByCaller
  assert.match(stdout, /The same reads by who made them/)
  assert.equal(byCaller('bare'), {})
  const callers = byCaller('rm-discard')
  const once = [
    'now ← begin (recorder.js)', 'now ← close (recorder.js)',
    'idleTime ← enter (cpu-attributed.js)', 'now ← switchBack (cpu-attributed.js)',
  ]
  for (const read of once) {
    const found = Object.entries(callers).filter(([where]) => where.startsWith(read))
    assert.is(found.length, 1, `${read}: ${JSON.stringify(callers)}`)
    assert.ok(Math.abs(found[0]![1] - 1) < 0.05, `${read}: ${found[0]![1]} a request`)
  }
})

test.run()
