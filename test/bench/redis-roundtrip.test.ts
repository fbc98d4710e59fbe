import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runNode } from '../support/run-node.js'
import { REDIS, servicesAvailable } from '../support/services.js'

// bench/redis-roundtrip.mjs prices one XADD to a redis-server it starts itself (the figures bench/README.md
// gives for the Redis sink's per-flush cost). It must keep running and print a figure for every way of sending;
// it fails by itself when no XADD reached its server. Nothing about speed is asserted.

const it = servicesAvailable('test/bench/redis-roundtrip.test.ts', [REDIS]) ? test : test.skip

it('bench/redis-roundtrip.mjs prints a CPU figure per way of sending an XADD', async () => {
  const { code, stdout, stderr } = await runNode(['bench/redis-roundtrip.mjs', '--rounds', '1', '--gap', '5'], {
    coverage: false, timeoutMs: 60_000,
  })
  assert.is(code, 0, `redis-roundtrip.mjs exited ${code}:\n${stderr.slice(-3000)}`)
  for (const way of ['pipelined', 'sequential', 'sparse', 'wake-up']) {
    const row = new RegExp(`^\\| ${way} \\| (-?\\d+\\.\\d) \\[(-?\\d+\\.\\d)…(-?\\d+\\.\\d)\\] \\|$`, 'm').exec(stdout)
    assert.ok(row !== null, `no row for ${way} in:\n${stdout}`)
    // One round: its median, lowest and highest are the same figure.
    assert.ok(row[1] === row[2] && row[2] === row[3], `${way}: ${row[0]}`)
  }
})

test.run()
