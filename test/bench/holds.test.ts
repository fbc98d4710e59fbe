import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runNode } from '../support/run-node.js'

// bench/holds.mjs counts the attributed clock's holds from a copy of the build that reports each one (found by
// its compiled line: this fails when the source moves it). What it must show on any machine: a json request
// switches at least twice (its entry, and back after each of its two setImmediate hops), and every share is one.

/** The table's row starting with `label`, as its cells. */
function row(stdout: string, label: string): string[] {
  const found = stdout.split('\n').find((line) => line.startsWith(`| ${label} |`))
  assert.ok(found !== undefined, `no ${label} row in:\n${stdout}`)
  return found.split('|').slice(1, -1).map((cell) => cell.trim())
}

test('bench/holds.mjs counts the holds at the switches, by length, and those that held idle time', async () => {
  const { code, stdout, stderr } = await runNode(['bench/holds.mjs', '--cases', 'json:4,tiny:4', '--seconds', '0.5'], {
    coverage: false, timeoutMs: 60_000,
  })
  assert.is(code, 0, `holds.mjs exited ${code}:\n${stderr.slice(-3000)}`)
  for (const label of ['json × 4', 'tiny × 4']) {
    const [, requests, perRequest, under3, under10, withIdle] = row(stdout, label)
    assert.ok(Number(requests) > 0, stdout)
    assert.ok(Number(perRequest) >= 1, `${label}: ${stdout}`)
    const shares = [under3, under10].map((cell) => Number(cell!.replace(' %', '')))
    assert.ok(shares.every((x) => x >= 0) && shares[0]! + shares[1]! <= 100, `${label}: ${stdout}`)
    assert.ok(Number(withIdle) >= 0, stdout)
  }
  assert.ok(Number(row(stdout, 'json × 4')[2]) >= 2, stdout)
})

test('bench/holds.mjs refuses an unknown route', async () => {
  const { code, stderr } = await runNode(['bench/holds.mjs', '--cases', 'nope:4'], { coverage: false, timeoutMs: 30_000 })
  assert.is.not(code, 0)
  assert.match(stderr, /--cases: route:connections, got nope:4/)
})

test.run()
