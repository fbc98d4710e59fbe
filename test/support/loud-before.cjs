/**
 * Preloaded by `npm test` (`uvu -r tsx -r ./test/support/loud-before.cjs`): a suite whose `before` hook throws fails
 * every one of its tests with that error.
 *
 * uvu (0.5) runs a suite's `before` hooks inside a `try` whose `finally` returns, so their error is dropped: the
 * suite prints `(0 / 5)`, nothing says why, and the run still exits 0. Seen in CI: influxd failed to start for
 * `test/agent/pipeline.test.ts`, five tests never ran, and the run passed, or would have, but for the
 * redis-server that suite had started, which kept the test process alive.
 *
 * Each `before` hook is wrapped to keep its error, and a `before.each` hook registered with it, which uvu runs
 * inside each test's own `try`, throws it again: the tests show as failed, with the error, and the run exits 1.
 */
'use strict'
const uvu = require('uvu')

/**
 * Makes `test`'s `before` hooks loud (see above); returns `test`. The guard is registered with each hook, not once
 * per suite: `test.run()` clears a suite's hooks, and uvu's default `test` is reused by every file that imports it.
 */
function loud(test) {
  const before = test.before
  const wrapped = (hook) => {
    let failure
    before(async (state) => {
      try {
        await hook(state)
      } catch (error) {
        failure = error
      }
    })
    before.each(() => {
      if (failure !== undefined) throw failure
    })
  }
  wrapped.each = before.each
  test.before = wrapped
  return test
}

const suite = uvu.suite
uvu.suite = (...args) => loud(suite(...args))
loud(uvu.test)
