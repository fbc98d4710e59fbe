import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { nextOffset, syncWallClock, unixMs } from '../../src/util/wall-clock.js'

// Records are stamped with Unix time from performance.now() readings. performance.timeOrigin + now drifted 27 ms
// from Date.now() in a CI process once the system clock was stepped; the offset is now measured at each flush.

test('a reading under the held offset by less than 1 ms is truncation and changes nothing', () => {
  assert.is(nextOffset(1000.4, 999.9), 1000.4)
  assert.is(nextOffset(1000.4, 999.41), 1000.4)
  assert.is(nextOffset(1000.4, 1000.4), 1000.4)
})

test('a higher reading, or one 1 ms or more lower, is taken: the clock was stepped', () => {
  assert.is(nextOffset(1000.4, 1000.7), 1000.7)
  assert.is(nextOffset(1000.4, 1060.2), 1060.2)
  assert.is(nextOffset(1000.4, 973), 973)
  assert.is(nextOffset(1000.4, 999.4), 999.4)
})

test('fed truncated readings, the offset stays within 1 ms of the clock\'s through steps either way', () => {
  // Unix ms = offset + performance.now(); Date.now() truncates it. The clock is stepped back 27 ms, then forward 3 s.
  let trueOffset = 1_796_308_000_000.37
  let held = trueOffset
  let now = 5_000.123
  let worst = 0
  for (let i = 0; i < 3_000; i++) {
    if (i === 1_000) trueOffset -= 27
    if (i === 2_000) trueOffset += 3_000
    now += 0.37 + (i % 7) * 0.113 // readings at every phase of the millisecond
    const dateNow = Math.floor(trueOffset + now)
    held = nextOffset(held, dateNow - now)
    worst = Math.max(worst, Math.abs(held - trueOffset))
    assert.ok(held <= trueOffset + 1e-6, `held ${held} above the clock's ${trueOffset} at reading ${i}`)
  }
  assert.ok(worst < 1, `the held offset strayed ${worst} ms`)
  // Readings at every phase bring it close: the highest of them is the truncation's smallest error.
  assert.ok(trueOffset - held < 0.2, `${trueOffset - held} ms under after 1,000 readings`)
})

test('after a sync, unixMs of now lies within a millisecond of Date.now()', () => {
  for (let i = 0; i < 100; i++) {
    syncWallClock()
    const before = Date.now()
    const stamped = unixMs(performance.now())
    const after = Date.now()
    assert.ok(stamped >= before - 1 && stamped <= after + 1, `${stamped} outside [${before}, ${after}]`)
  }
})

test.run()
