import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runNode } from '../support/run-node.js'

// bench/dispatches.mjs counts the callbacks Node dispatches per request of each bench route (the figures
// bench/README.md multiplies by a callback's cost). The app's own scheduling is known: json makes two
// setImmediate hops and awaits three times, await20 awaits twenty times, tiny schedules nothing. Node's own
// callbacks (the HTTP parser's, nextTicks) differ between versions, so only their presence is checked.

/** The table's row for `route`, as { column: per-request figure }. */
function row(stdout: string, route: string): Record<string, number> {
  const lines = stdout.split('\n')
  const header = lines.find((line) => line.startsWith('| route |'))
  const found = lines.find((line) => line.startsWith(`| ${route} |`))
  assert.ok(header !== undefined && found !== undefined, `no ${route} row in:\n${stdout}`)
  const names = header.split('|').slice(2, -1).map((cell) => cell.trim())
  const cells = found.split('|').slice(2, -1).map((cell) => Number(cell.trim()))
  return Object.fromEntries(names.map((name, i) => [name, cells[i]!]))
}

test('bench/dispatches.mjs counts the app\'s immediates and promise reactions per request, and Node\'s callbacks', async () => {
  const { code, stdout, stderr } = await runNode(['bench/dispatches.mjs', '--window', '0.5', '--connections', '4'], {
    coverage: false, timeoutMs: 60_000,
  })
  assert.is(code, 0, `dispatches.mjs exited ${code}:\n${stderr.slice(-3000)}`)
  const tiny = row(stdout, 'tiny')
  const json = row(stdout, 'json')
  const await20 = row(stdout, 'await20')
  assert.is(tiny['Immediate'] ?? 0, 0, stdout)
  assert.is(tiny['promise reaction'] ?? 0, 0, stdout)
  assert.is(json['Immediate'], 2, stdout)
  assert.is(json['promise reaction'], 3, stdout)
  assert.is(await20['Immediate'], 2, stdout)
  assert.ok(await20['promise reaction']! >= 20, stdout)
  for (const [route, counts] of [['tiny', tiny], ['json', json], ['await20', await20]] as const) {
    // Every request is parsed by Node's HTTP parser, which calls into JavaScript through a native callback.
    assert.ok(counts['HTTPINCOMINGMESSAGE']! >= 1, `${route}: ${stdout}`)
    assert.ok(counts['async_hooks `before`, all']! > counts['HTTPINCOMINGMESSAGE']!, `${route}: ${stdout}`)
  }
})

test.run()
