/**
 * The agent's dead-letter warnings on their own, with explicit times: the first of a reason at once, repeats
 * within the interval counted and folded into the next warning, other reasons independent, and a bounded memory
 * of reasons. The agent's end-to-end dead-lettering (and its first warnings) is in agent.test.ts.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { deadLetterWarnings } from '../../src/agent/dead-letter-warnings.js'

const test = suite('dead-letter warnings')
const NOT_JSON = 'StreamDecodeError: malformed stream entry: payload is not JSON'

test('the first entry of a reason warns at once, repeats within the interval do not', () => {
  const said: string[] = []
  const note = deadLetterWarnings((m) => said.push(m), 60_000)
  note('1-0', 's:dead', NOT_JSON, 0)
  note('2-0', 's:dead', NOT_JSON, 1_000)
  note('3-0', 's:dead', NOT_JSON, 59_999)
  assert.equal(said, [`entry 1-0 moved to s:dead: ${NOT_JSON}`])
})

test('after the interval the reason warns again, with how many went there meanwhile', () => {
  const said: string[] = []
  const note = deadLetterWarnings((m) => said.push(m), 60_000)
  note('1-0', 's:dead', NOT_JSON, 0)
  note('2-0', 's:dead', NOT_JSON, 10_000)
  note('3-0', 's:dead', NOT_JSON, 20_000)
  note('4-0', 's:dead', NOT_JSON, 60_000)
  note('5-0', 's:dead', NOT_JSON, 200_000) // a second outbreak much later: warned, with nothing folded in
  assert.equal(said, [
    `entry 1-0 moved to s:dead: ${NOT_JSON}`,
    `entry 4-0 moved to s:dead: ${NOT_JSON} (and 2 more since the last warning)`,
    `entry 5-0 moved to s:dead: ${NOT_JSON}`,
  ])
})

test('reasons are told apart by their first 40 characters; each has its own interval', () => {
  const said: string[] = []
  const note = deadLetterWarnings((m) => said.push(m), 60_000)
  const delivered = (n: number): string => `delivered ${n} times without being acked (maxDeliveries 5)`
  note('1-0', 's:dead', delivered(6), 0)
  note('2-0', 's:dead', 'refused by influx: field type conflict', 1)
  note('3-0', 's:dead', delivered(6), 2) // the same 40-character head: a repeat
  assert.equal(said.length, 2)
  assert.match(said[1]!, /^entry 2-0 moved to s:dead: refused by influx/)
})

test('memory of reasons is bounded: past 64, the reason warned longest ago is forgotten and warns again', () => {
  const said: string[] = []
  const note = deadLetterWarnings((m) => said.push(m), 60_000)
  for (let i = 0; i < 65; i++) note(`${i}-0`, 's:dead', `reason number ${i}`, i)
  assert.is(said.length, 65)
  note('a-0', 's:dead', 'reason number 64', 100) // remembered: silent
  note('b-0', 's:dead', 'reason number 0', 101) // forgotten to stay within 64: warns again
  assert.equal(said.slice(65), ['entry b-0 moved to s:dead: reason number 0'])
})

test.run()
