import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { agentStats } from '../../src/agent/agent-stats.js'
import { statusLine } from '../../src/cli/status-line.js'
import { countDrop, dropTotals } from '../../src/util/drops.js'
import { runNode } from '../support/run-node.js'

/*
 * The drops on the status line are the process's (dropTotals()), and other suites running in this process
 * count drops too. So the whole line is checked in a fresh process, where the drops are exactly the ones
 * counted there; in this process, only the change a count makes.
 */

/** Runs `code` (CommonJS, with statusLine, agentStats and countDrop in scope) in a fresh process; the lines it printed. */
async function inFreshProcess(code: string): Promise<string[]> {
  const { code: exit, stdout, stderr } = await runNode(['--import', 'tsx', '-e', `
    const { statusLine } = require('./src/cli/status-line.ts')
    const { agentStats } = require('./src/agent/agent-stats.ts')
    const { countDrop } = require('./src/util/drops.ts')
    const line = (previous, current, ms) => console.log(statusLine({ ...agentStats(), ...previous }, { ...agentStats(), ...current }, ms))
    ${code}
  `], { timeoutMs: 30_000 })
  assert.is(exit, 0, stderr)
  return stdout.trimEnd().split('\n')
}

test('the status line shows rates over the elapsed time and the gauges; nothing about drops while there are none', async () => {
  const lines = await inFreshProcess(`
    line({}, { entries: 10, requests: 5000, lag: 2, connected: true }, 5000)
    const busy = { entries: 22, requests: 98500, lag: 7, pending: 2, retries: 3, deadLettered: 1, connected: true }
    line({ entries: 10, requests: 5000 }, busy, 5000)
    line({}, { entries: 3, requests: 1, lag: 0 }, 0)
  `)
  assert.equal(lines, [
    'entries/s 2 · requests/s 1,000 · lag 2 · pending 0 · retries 0 · dead-lettered 0',
    'entries/s 2 · requests/s 18,700 · lag 7 · pending 2 · retries 3 · dead-lettered 1',
    // No time elapsed counts as 1 ms; and a lost Redis connection is said so.
    'entries/s 3,000 · requests/s 1,000 · lag 0 · pending 0 · retries 0 · dead-lettered 0 · redis disconnected',
  ])
})

// StatsD lines the agent's kernel refused count as `sink`.
test('the drops the process counted follow, by reason, in the order first counted', async () => {
  const lines = await inFreshProcess(`
    countDrop('sink', 1234)
    line({}, { lag: 0, connected: true }, 5000)
    countDrop('value', 2)
    countDrop('sink')
    line({}, { lag: 0, connected: true }, 5000)
  `)
  assert.equal(lines, [
    'entries/s 0 · requests/s 0 · lag 0 · pending 0 · retries 0 · dead-lettered 0 · dropped sink 1,234',
    'entries/s 0 · requests/s 0 · lag 0 · pending 0 · retries 0 · dead-lettered 0 · dropped sink 1,235 · ' +
      'dropped value 2',
  ])
})

test('in a process where other suites counted drops, a count moves its reason on the status line by exactly that much', () => {
  const dropsOn = (line: string): Record<string, number> => Object.fromEntries(
    [...line.matchAll(/ · dropped (\w+) ([\d,]+)/g)].map(([, reason, n]) => [reason, Number(n.replaceAll(',', ''))]))
  const gauges = 'entries/s 0 · requests/s 0 · lag ? · pending 0 · retries 0 · dead-lettered 0'
  const before = dropsOn(statusLine(agentStats(), { ...agentStats(), connected: true }, 5000))
  assert.equal(before, dropTotals())
  countDrop('sink', 1234)
  const line = statusLine(agentStats(), { ...agentStats(), connected: true }, 5000)
  assert.ok(line.startsWith(gauges), line)
  assert.equal(dropsOn(line), { ...before, sink: (before.sink ?? 0) + 1234 })
})

test('a lag Redis did not report (null: entries deleted before the group read them, Redis < 7.0) shows as ?, never as 0', () => {
  const at = (lag: number | null): string => statusLine(agentStats(), { ...agentStats(), lag, connected: true }, 5000).split(' · ')[2]
  assert.equal([at(null), at(0), at(12)], ['lag ?', 'lag 0', 'lag 12'])
  assert.is(agentStats().lag, null, 'unknown until the first XINFO GROUPS')
})

test.run()
