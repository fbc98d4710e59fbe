import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runNode } from '../support/run-node.js'
import { REDIS, servicesAvailable } from '../support/services.js'

// bench/flush-cost.mjs, which README.md's figure for a flush's share comes from, must keep running on the build
// it copies: every edit of lib/flush-phases.mjs must find its line, and the timed phases must land in the right
// columns (the Redis sink encodes, the sink that keeps nothing does not). It asserts nothing about speed. Needs a
// built dist/ (`pretest` builds it).

interface Window { flushesPerS: number, recordsPerFlush: number, buildUs: number, encodeUs: number, handOverUs: number, sendUs: number }

const it = servicesAvailable('test/bench/flush-cost.test.ts', [REDIS]) ? test : test.skip

it('bench/flush-cost.mjs times the records built for every sink and the Redis sink\'s encoding apart', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routemeter-flush-cost-test-'))
  const out = path.join(dir, 'flush-cost.json')
  try {
    const { code, stdout, stderr } = await runNode(
      ['bench/flush-cost.mjs', '--only', 'rm-discard,rm-redis', '--route', 'tiny', '--windows', '2', '--window', '0.5', '--out', out],
      { coverage: false, timeoutMs: 120_000 },
    )
    assert.is(code, 0, `flush-cost.mjs exited ${code}:\n${stderr.slice(-3000)}`)
    assert.match(stdout, /\| rm-redis \|/)
    const { results } = JSON.parse(fs.readFileSync(out, 'utf8')) as { results: Record<string, Window[]> }
    assert.equal(Object.keys(results).sort(), ['rm-discard', 'rm-redis'])
    for (const [name, windows] of Object.entries(results)) {
      assert.is(windows.length, 2, `${name}: windows`)
      for (const w of windows) {
        // Flushes come every 500 records at the bench's pace: each window has some, each built its records.
        assert.ok(w.flushesPerS > 0 && w.recordsPerFlush >= 1, `${name}: ${JSON.stringify(w)}`)
        assert.ok(w.buildUs > 0 && w.sendUs >= 0, `${name}: ${JSON.stringify(w)}`)
      }
    }
    assert.ok(results['rm-redis']!.every((w) => w.encodeUs > 0 && w.handOverUs > 0), JSON.stringify(results['rm-redis']))
    assert.ok(results['rm-discard']!.every((w) => w.encodeUs === 0), JSON.stringify(results['rm-discard']))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
