import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { MetricRecord } from '../../src/wire/record.js'
import { consolePublisher } from '../../src/agent/console-publisher.js'
import { OptionError } from '../../src/util/option-check.js'
import { entryOf as entry } from '../support/entries.js'

function record(route: string, ms: number, status = 200): MetricRecord {
  return {
    kind: 'request', prefix: '', route, method: 'GET', status, aborted: false, dimensions: {},
    counters: { Failure: status >= 500 ? 1 : 0, ClientError: status >= 400 && status < 500 ? 1 : 0 }, timers: { RequestTime: ms },
    timestamp: 1763798400000,
  }
}
function capture(): { write(s: string): boolean, text: string } {
  const out = { text: '', write(s: string) { out.text += s; return true } }
  return out
}

test('the table has a row per route and method, busiest first: avg, p50 and p99 merged across entries, max, error counts', async () => {
  const out = capture()
  const pub = consolePublisher({ output: out })
  await pub.publish([
    entry('1-0', [record('health', 1), record('users.id', 2), record('users.id', 4, 500)]),
    entry('1-1', [record('users.id', 6, 404)]),
  ])
  const lines = out.text.trim().split('\n')
  assert.match(lines[0], /^route\s+method\s+requests\s+avg ms\s+p50 ms\s+p99 ms\s+max ms\s+5xx\s+4xx$/)
  // 2, 4 and 6 ms over two entries: p50 and p99 are the middle value's bucket (rank ⌊q · 2⌋ = 1), 3.96 (within 1.08 % of 4).
  assert.match(lines[1], /^users\.id\s+GET\s+3\s+4\.00\s+3\.96\s+3\.96\s+6\.00\s+1\s+1$/)
  assert.match(lines[2], /^health\s+GET\s+1\s+1\.00\s+1\.00\s+1\.00\s+1\.00\s+0\s+0$/)
})

test('json: true prints one parseable line per series per entry', async () => {
  const out = capture()
  const pub = consolePublisher({ json: true, output: out })
  await pub.publish([entry('7-3', [record('a', 1), record('a', 3)])])
  const rows = out.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  const time = rows.find((r) => r.measurement === 'RequestTime')
  assert.equal(time, {
    id: '7-3', measurement: 'RequestTime', type: 'timer', kind: 'request', prefix: '', route: 'a', method: 'GET', dimensions: {},
    status_class: '2xx', count: 2, sum: 4, min: 1, max: 3, p50: 1, p90: 1, p99: 1,
  })
})

test('bad options are OptionErrors (TypeErrors) naming the option', () => {
  const bads: Array<[Record<string, unknown>, string]> = [
    [{ output: {} }, 'output'], [{ output: 'stdout' }, 'output'], [{ json: 'yes' }, 'json'],
  ]
  for (const [bad, option] of bads) {
    assert.throws(() => consolePublisher(bad as never), (e: unknown) =>
      e instanceof TypeError && e instanceof OptionError && e.owner === 'consolePublisher' && e.option === option, JSON.stringify(bad))
  }
  assert.throws(() => consolePublisher({ json: 1 as never }),
    (e: Error) => e.message === 'routemeter: consolePublisher option "json" must be true or false, got 1')
})

test.run()
