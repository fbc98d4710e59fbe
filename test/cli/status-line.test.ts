import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { agentStats } from '../../src/agent/agent-stats.js'
import { statusLine } from '../../src/cli/status-line.js'
import { countDrop, dropTotals } from '../../src/util/drops.js'

test('the status line shows rates and gauges, then the drops counted so far (nothing while there are none)', () => {
  const before = agentStats()
  const now = { ...agentStats(), entries: 10, requests: 5000, lag: 2, connected: true }
  // Drops are per process, and other suites in this process may have counted some.
  const drops = Object.entries(dropTotals()).map(([reason, n]) => ` · dropped ${reason} ${n.toLocaleString('en-US')}`).join('')
  assert.is(statusLine(before, now, 5000), `entries/s 2 · requests/s 1,000 · lag 2 · pending 0 · retries 0 · dead-lettered 0${drops}`)
})

test('lines the agent dropped (StatsD datagrams its kernel refused count as sink) show on the status line', () => {
  countDrop('sink', 1234)
  const line = statusLine(agentStats(), { ...agentStats(), connected: true }, 5000)
  assert.ok(line.endsWith(' · dropped sink 1,234'), line)
})

test.run()
