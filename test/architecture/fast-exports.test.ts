import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT, runNode } from '../support/run-node.js'

// A module that re-exports a binding (`export { X } from './y.js'`, or `export { X }` of an import) compiles to
// `exports.X = void 0` and then a getter defined over it, which turns its CommonJS exports object into a
// dictionary. Every module importing from it then reads each of its exports through the generic LoadIC: the
// settled route walk paid ≈ 100 instructions a path segment for `MAX_DEPTH`, 358 a name. So only the public
// entry (dist/index.js, read once by an app's require) may re-export.

const DIST = join(ROOT, 'dist')
/** The package's own entry, and the CLI, which runs when required. */
const EXEMPT = new Set(['index.js', join('cli', 'main.js')])

function modulesIn(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => relative(dir, join(e.parentPath, e.name)))
}

/** Those of `files` (absolute) whose exports object V8 keeps as a dictionary, asked of a fresh Node. */
async function slowExports(files: string[]): Promise<string[]> {
  const script = `const files = ${JSON.stringify(files)}
const slow = files.filter((f) => !%HasFastProperties(require(f)))
process.stdout.write(JSON.stringify(slow))
process.exit(0)`
  const { code, stdout, stderr } = await runNode(['--allow-natives-syntax', '-e', script], { coverage: false })
  assert.is(code, 0, stderr)
  return JSON.parse(stdout) as string[]
}

test('no module of the build but its entry has a dictionary-mode exports object (no re-exports inside the library)', async () => {
  assert.ok(existsSync(DIST), 'dist/ is missing: `npm test` builds it first (pretest), or run `npm run build`')
  const modules = modulesIn(DIST).filter((m) => !EXEMPT.has(m))
  assert.ok(modules.length > 50, `only ${modules.length} modules found under dist/`)
  const slow = await slowExports(modules.map((m) => join(DIST, m)))
  assert.equal(slow.map((f) => relative(DIST, f)), [])
})

test('the check sees a re-export: tsc\'s output for `export { X } from` is reported, a plain export is not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rm-exports-'))
  try {
    writeFileSync(join(dir, 'source.js'), '"use strict";\nexports.X = 1;\n')
    writeFileSync(join(dir, 'plain.js'), '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nexports.Y = 2;\n')
    writeFileSync(join(dir, 'reexport.js'), '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\n' +
      'exports.Y = exports.X = void 0;\nvar s = require("./source.js");\n' +
      'Object.defineProperty(exports, "X", { enumerable: true, get: function () { return s.X; } });\nexports.Y = 2;\n')
    const slow = await slowExports(['plain.js', 'reexport.js'].map((f) => join(dir, f)))
    assert.equal(slow, [join(dir, 'reexport.js')])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
