import { spawnSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { samplePeriodFor } from '../../src/collect/cpu-attributed.js'
import { runScenario } from '../support/scenario-process.js'
import type { GuardScenario } from './cpu-guard-scenario.js'

/*
 * The preemption guard samples the thread's CPU once per 1–8 ms of busy time, as often as the preemption it
 * sees makes worth it (cpu-attributed.ts). Too seldom on a loaded core, and a long hold is charged the time the
 * OS took from the short holds before it; as often as before on an unloaded one, and the reads cost the
 * request path what they always did.
 */

test('the sample period is the longest whose expected loss stays within the budget', () => {
  assert.is(samplePeriodFor(0), 8, 'nothing taken')
  assert.is(samplePeriodFor(-0.02), 8, 'more CPU than busy time (the loop\'s epoll calls count as idle)')
  assert.is(samplePeriodFor(0.005), 8, '0.04 ms in 8 ms')
  assert.is(samplePeriodFor(0.01), 5)
  assert.is(samplePeriodFor(0.025), 2)
  assert.is(samplePeriodFor(0.05), 1)
  assert.is(samplePeriodFor(0.3), 1, 'never below 1 ms')
})

// The scenario's main thread and its competitor share the last core; the test runner and the threads of the
// scenario that are not pinned keep the others.
const core = String(availableParallelism() - 1)
const pinnable = availableParallelism() >= 2 && spawnSync('taskset', ['-c', core, 'true']).status === 0
if (!pinnable) {
  process.stderr.write('[skip] test/collect/cpu-guard.test.ts (real scheduling): needs taskset (util-linux) and 2 cores\n')
}
const real = pinnable ? test : test.skip

real('under real scheduling the period lengthens on a core of its own and drops to 1 ms on a shared one', async () => {
  const alone = await runScenario<GuardScenario>('test/collect/cpu-guard-scenario.ts', { args: [core] })
  const shared = await runScenario<GuardScenario>('test/collect/cpu-guard-scenario.ts', { args: [core, 'contended'] })
  assert.is(alone.contended, false)
  assert.is(shared.contended, true)
  assert.is(alone.maxPeriodMs, 8, `alone: ${JSON.stringify(alone)}`)
  // A guard fixed at 1 ms reads at least once per ms of busy time (busy ≥ CPU). 0.29–0.33 reads per ms in four
  // runs on a 2-core VM, against 0.60–0.62 with the competitor.
  assert.ok(alone.reads < 0.7 * alone.cpuMs, `alone: ${alone.reads} reads in ${alone.cpuMs.toFixed(0)} ms of CPU`)
  assert.is(shared.minPeriodMs, 1, `shared: ${JSON.stringify(shared)}`)
  assert.ok(shared.reads / shared.cpuMs > alone.reads / alone.cpuMs, `shared ${JSON.stringify(shared)}, alone ${JSON.stringify(alone)}`)
})

test.run()
