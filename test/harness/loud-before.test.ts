import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT, runNode } from '../support/run-node.js'

// The suite's own harness: `npm test` preloads test/support/loud-before.cjs so that a `before` hook that throws
// fails its suite's tests (uvu alone drops the error and exits 0). Run on throwaway test files, by uvu itself.

const UVU = join(ROOT, 'node_modules', 'uvu', 'bin.js')
const PRELOAD = join(ROOT, 'test', 'support', 'loud-before.cjs')
/** The test files below live outside the repository: they require uvu by its path, the module uvu's runner loads. */
const UVU_MODULE = JSON.stringify(require.resolve('uvu'))

/** Runs uvu over one test file written to a fresh directory, with or without the preload. */
async function uvu(source: string, preload: boolean): Promise<{ code: number | null, out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'rm-loud-'))
  try {
    writeFileSync(join(dir, 'a.test.cjs'), source)
    const args = [UVU, ...(preload ? ['-r', PRELOAD] : []), '-c', 'false', dir, '\\.test\\.cjs$']
    const { code, stdout, stderr } = await runNode(args, { cwd: dir, coverage: false, env: { ...process.env, FORCE_COLOR: '0' } })
    return { code, out: stdout + stderr }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const FAILING_SETUP = `const { suite, test } = require(${UVU_MODULE})
const s = suite('with a broken setup')
s.before(() => { throw new Error('the server would not start') })
s('first', () => {})
s('second', () => {})
s.run()
test.before(async () => {})
test('a later file\\'s suite still runs', () => {})
test.run()
`

test('a before hook that throws fails its suite\'s tests with its error, and the run exits 1', async () => {
  const { code, out } = await uvu(FAILING_SETUP, true)
  assert.is(code, 1, out)
  assert.match(out, 'the server would not start')
  assert.match(out, /Total:\s+3/)
  assert.match(out, /Passed:\s+1/)
})

test('without the preload uvu drops that error and exits 0 (what the preload is for)', async () => {
  const { code, out } = await uvu(FAILING_SETUP, false)
  assert.is(code, 0, out)
  assert.not.match(out, 'the server would not start')
})

test('a before hook that works changes nothing', async () => {
  const source = `const { suite } = require(${UVU_MODULE})
const s = suite('fine')
let ready = false
s.before(async () => { ready = true })
s('sees its setup', () => { if (!ready) throw new Error('not ready') })
s.run()
`
  const { code, out } = await uvu(source, true)
  assert.is(code, 0, out)
  assert.match(out, /Passed:\s+1/)
})

test.run()
