/**
 * What users get is the tarball, not the repo. This packs the package, installs it into an empty app with
 * production dependencies only (no devDependencies to hide a missing one), and loads it there through
 * `require`, `import` and the `routemeter` bin, on every Node binary in `ROUTEMETER_SMOKE_NODES`
 * (PATH-style list; default: the Node running the tests). `.ci/run` passes Node 20, 22 and 24.
 *
 * The install needs the npm registry (or npm's cache). Where neither answers, the suite says so and skips,
 * unless `ROUTEMETER_REQUIRE_SERVICES=1`.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const root = join(__dirname, '..', '..')
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
const nodes = (process.env.ROUTEMETER_SMOKE_NODES ?? process.execPath).split(delimiter).filter((n) => n !== '')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

const Packed = suite('the packed tarball, installed with --omit=dev')
let work = ''
let app = ''
let installed = true

Packed.before(() => {
  work = mkdtempSync(join(tmpdir(), 'routemeter-packed-'))
  app = join(work, 'app')
  const pack = execFileSync(npm, ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' })
  const [packed] = JSON.parse(pack) as { filename: string }[]
  execFileSync('mkdir', [app])
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'smoke-app', private: true }))
  try {
    const install = ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', join(work, packed!.filename)]
    execFileSync(npm, install, { cwd: app, stdio: 'pipe' })
  } catch (error) {
    const why = String((error as { stderr?: Buffer }).stderr ?? error).split('\n').find((l) => /ERR!/.test(l)) ?? String(error)
    if (process.env.ROUTEMETER_REQUIRE_SERVICES === '1') throw error
    process.stderr.write(`[skip] test/package/packed.test.ts: npm install of the tarball failed (no registry or cache?): ${why}\n`)
    installed = false
  }
  for (const file of ['use-cjs.cjs', 'use-esm.mjs']) copyFileSync(join(__dirname, 'fixtures', file), join(app, file))
})

Packed.after(() => { rmSync(work, { recursive: true, force: true }) })

/** Runs `args` with one Node binary, that binary first on PATH (so the bin's `#!/usr/bin/env node` finds it). */
function run(node: string, file: string, args: string[]): string {
  return execFileSync(file === 'node' ? node : file, args, { cwd: app, env: envFor(node), encoding: 'utf8', timeout: 60_000 })
}

/** The environment a run with `node` gets: that binary first on PATH, no NODE_OPTIONS from the test runner. */
function envFor(node: string): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}`, NODE_OPTIONS: '' }
}

Packed('the tarball holds the build and the docs, and no tests, sources or source maps', () => {
  const listing = execFileSync(npm, ['pack', '--dry-run', '--json'], { cwd: root, encoding: 'utf8' })
  const listed = JSON.parse(listing) as { files: { path: string }[] }[]
  const paths = listed[0]!.files.map((f) => f.path)
  const musts = ['package.json', 'README.md', 'CHANGELOG.md', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/cli/main.js']
  for (const must of musts) assert.ok(paths.includes(must), `${must} is packed`)
  const stray = paths.filter((p) => /^(src|test|bench|\.ci)\//.test(p) || p.endsWith('.map') ||
    p.endsWith('.ts') && !p.endsWith('.d.ts') && !p.endsWith('.d.mts'))
  assert.equal(stray, [])
})

for (const node of nodes) {
  const label = (() => { try { return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim() } catch { return node } })()

  Packed(`${label}: require('routemeter') serves a request and ships its record to memory and to StatsD`, () => {
    if (!installed) return
    const out = JSON.parse(run(node, 'node', ['use-cjs.cjs'])) as { body: string, route: string, counter: number, statsd: string }
    assert.is(out.body, 'ok')
    assert.is(out.route, 'users.id')
    assert.is(out.counter, 1)
    assert.match(out.statsd, /^smoke\.health\.RequestTime:[\d.]+\|ms$/m)
  })

  Packed(`${label}: import 'routemeter' exposes the same instance as require`, () => {
    if (!installed) return
    const out = JSON.parse(run(node, 'node', ['use-esm.mjs'])) as { exported: string[], same: boolean }
    for (const name of ['withMetrics', 'metrics', 'koaMetrics', 'connectMetrics', 'redisSink', 'startAgent', 'influxPublisher']) {
      assert.ok(out.exported.includes(name), `${name} is exported to import`)
    }
    assert.ok(out.same)
  })

  Packed(`${label}: the routemeter bin answers --version, agent --version and agent --help`, () => {
    if (!installed) return
    const bin = join(app, 'node_modules', '.bin', 'routemeter')
    assert.is(run(node, bin, ['--version']).trim(), version)
    assert.is(run(node, bin, ['agent', '--version']).trim(), version)
    assert.match(run(node, bin, ['agent', '--help']), /^Usage: routemeter agent/)
  })

  Packed(`${label}: the routemeter bin's top answers --help, and --once loads the view's code and says when Redis is away`, () => {
    if (!installed) return
    const bin = join(app, 'node_modules', '.bin', 'routemeter')
    assert.match(run(node, bin, ['top', '--help']), /^Usage: routemeter top/)
    // Port 1 on loopback: nothing listens there, so the reader fails at once, having loaded everything `--once` uses.
    const away = spawnSync(bin, ['top', '--once', '--json', '--redis', 'redis://127.0.0.1:1'], {
      cwd: app, env: envFor(node), encoding: 'utf8', timeout: 60_000,
    })
    assert.is(away.status, 1, away.stderr)
    assert.match(away.stderr, /^routemeter top: cannot read routemeter from Redis at redis:\/\/127\.0\.0\.1:1: /)
  })
}

Packed.run()
