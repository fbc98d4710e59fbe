import { spawnSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { samplePeriodFor } from '../../src/collect/cpu-attributed.js'
import { runScenario } from '../support/scenario-process.js'
import type { Competitor, GuardScenario } from './cpu-guard-scenario.js'

/*
 * The preemption guard samples the thread's CPU once per 1–8 ms of busy time, as often as the preemption it
 * sees makes worth it (cpu-attributed.ts). Too seldom on a loaded core, and a long hold is charged the time the
 * OS took from the short holds before it; as often as before on an unloaded one, and the reads cost the
 * request path what they always did.
 */

test('the sample period is the longest whose expected loss stays within the budget, lengthening a step at a time', () => {
  assert.is(samplePeriodFor(0, 8), 8, 'nothing taken')
  assert.is(samplePeriodFor(-0.02, 8), 8, 'more CPU than busy time (the loop\'s epoll calls count as idle)')
  assert.is(samplePeriodFor(Number.NaN, 8), 8)
  assert.is(samplePeriodFor(0.005, 8), 8, '0.04 ms in 8 ms')
  assert.is(samplePeriodFor(0.01, 8), 5)
  assert.is(samplePeriodFor(0.025, 8), 2)
  assert.is(samplePeriodFor(0.05, 8), 1)
  assert.is(samplePeriodFor(0.3, 8), 1, 'never below 1 ms')
  assert.equal([1, 2, 4].map((last) => samplePeriodFor(0, last)), [2, 4, 8], 'at most twice the last')
  assert.is(samplePeriodFor(0.01, 4), 5, 'the budget bounds it before the doubling does')
  assert.is(samplePeriodFor(0.3, 4), 1, 'shortens at once')
  assert.is(samplePeriodFor(0, 1, 1), 1, 'the process\'s CPU: fixed at 1 ms')
})

// The scenario's main thread and its competitor share the last core; the test runner and the threads of the
// scenario that are not pinned keep the others.
const core = String(availableParallelism() - 1)
const pinnable = availableParallelism() >= 2 && spawnSync('taskset', ['-c', core, 'true']).status === 0
if (!pinnable) {
  process.stderr.write('[skip] test/collect/cpu-guard.test.ts (real scheduling): needs taskset (util-linux) and 2 cores\n')
}
const real = pinnable ? test : test.skip
const scenario = (competitor: Competitor) => runScenario<GuardScenario>('test/collect/cpu-guard-scenario.ts', { args: [core, competitor] })

real('under real scheduling the samples lengthen the period on a core of its own and shorten it on a shared one', async () => {
  const alone = await scenario('alone')
  const short = await scenario('short')
  const busy = await scenario('busy')
  const rate = (s: GuardScenario) => s.reads / s.cpuMs
  // Reads per ms of CPU in runs on a 2-core VM (Node 20 and 24), adaptive (fixed at 1 ms): alone 0.14–0.21
  // (0.95–1.00), short 1.12–1.15 (1.26–1.31), busy 0.73–0.74 (1.13–1.17).
  assert.is(alone.maxSampledMs, 8, `alone: ${JSON.stringify(alone)}`)
  assert.ok(rate(alone) < 0.6, `alone: ${JSON.stringify(alone)}`)
  // Preemptions shorter than a request's work cut no long hold: only the periodic samples can see them.
  assert.is(short.minSampledMs, 1, `short: ${JSON.stringify(short)}`)
  assert.ok(rate(short) > 2 * rate(alone), `short ${JSON.stringify(short)}, alone ${JSON.stringify(alone)}`)
  // A busy loop takes the core for milliseconds: long holds come out cut, and each drops the period to 1 ms.
  assert.ok(busy.cuts > 0 && busy.minPeriodMs === 1, `busy: ${JSON.stringify(busy)}`)
  assert.ok(rate(busy) > 2 * rate(alone), `busy ${JSON.stringify(busy)}, alone ${JSON.stringify(alone)}`)
})

test.run()
