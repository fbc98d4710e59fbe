/** `routemeter --version`: the version of the package the running file belongs to. */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { packageVersion } from '../../src/cli/version.js'

const test = suite('routemeter --version')
const ours = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version

function run(args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    child.once('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

test('routemeter --version, -v and routemeter agent --version print the package version and exit 0', async () => {
  const results = await Promise.all([['--version'], ['-v'], ['agent', '--version'], ['agent', '-v']].map(run))
  for (const r of results) {
    assert.is(r.code, 0, r.stderr)
    assert.is(r.stdout, `${ours}\n`)
  }
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
    assert.is(packageVersion(join(process.cwd(), 'src', 'cli')), ours)
  } finally { rmSync(root, { recursive: true, force: true }) }
})

test.run()
