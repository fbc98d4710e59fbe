/** `routemeter --version`: the version of the package the running file belongs to. */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { packageVersion } from '../../src/cli/version.js'
import { ROOT, runNode } from '../support/run-node.js'

const test = suite('routemeter --version')
const ours = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

test('routemeter --version, -v and routemeter agent --version print the package version and exit 0', async () => {
  const runs = [['--version'], ['-v'], ['agent', '--version'], ['agent', '-v']]
  const results = await Promise.all(runs.map((args) => runNode(['--import', 'tsx', 'src/cli/main.ts', ...args])))
  assert.equal(results, runs.map(() => ({ code: 0, stdout: `${ours}\n`, stderr: '' })))
})

test('the version is read from the package.json of the package holding the file, as in an installed dist/cli/', () => {
  const root = mkdtempSync(join(tmpdir(), 'routemeter-version-'))
  try {
    const cliDir = join(root, 'node_modules', 'routemeter', 'dist', 'cli')
    mkdirSync(cliDir, { recursive: true })
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'the-app', version: '1.0.0' }))
    writeFileSync(join(root, 'node_modules', 'routemeter', 'package.json'), JSON.stringify({ name: 'routemeter', version: '9.8.7-test' }))
    assert.is(packageVersion(cliDir), '9.8.7-test')
    // The source layout of this repository, too.
    assert.is(packageVersion(join(ROOT, 'src', 'cli')), ours)
  } finally { rmSync(root, { recursive: true, force: true }) }
})

test.run()
