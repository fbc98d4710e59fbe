import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

// `npm test` builds first (pretest); these check the built package the way users load it.
const root = join(__dirname, '..')
const API = [
  'withMetrics', 'metrics', 'koaMetrics', 'connectMetrics', 'fastifyMetrics', 'normalizePath', 'memorySink', 'statsdSink',
  'prometheusPublisher',
]

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' })
}

test('the build emitted JavaScript and declarations for both entry points', () => {
  for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/index.mjs', 'dist/index.d.mts']) {
    assert.ok(existsSync(join(root, file)), `${file} exists (run npm run build)`)
  }
})

const required = (): string[] => JSON.parse(node(['-e', 'console.log(JSON.stringify(Object.keys(require("routemeter"))))'])) as string[]

test('require("routemeter") exposes the public API', () => {
  assert.equal(API.filter((name) => !required().includes(name)), [], 'not exported to require')
})

test('import "routemeter" exposes the same API and the same module instance as require', () => {
  const out = node([
    '--input-type=module',
    '-e',
    `import * as esm from 'routemeter'; import { createRequire } from 'node:module';
     const cjs = createRequire(import.meta.url)('routemeter');
     console.log(JSON.stringify({ keys: Object.keys(esm), same: esm.metrics === cjs.metrics && esm.withMetrics === cjs.withMetrics }))`,
  ])
  const { keys, same } = JSON.parse(out) as { keys: string[], same: boolean }
  // `export * from` a CommonJS module also names its `__esModule` marker, and on Node ≥ 23 `module.exports`
  // itself; every other name is require's.
  assert.equal(keys.filter((k) => k !== '__esModule' && k !== 'module.exports').sort(), required().sort())
  assert.equal(API.filter((name) => !keys.includes(name)), [], 'not exported to import')
  assert.is(same, true, 'one module instance: metrics recorded through import reach wrappers created through require')
})

test.run()
