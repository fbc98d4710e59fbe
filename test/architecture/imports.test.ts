import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkImports, importsOf } from '../../scripts/check-imports.js'

function tree(files: Record<string, string>): { src: string, dispose(): void } {
  const root = mkdtempSync(join(tmpdir(), 'rm-imports-'))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, 'src', path)), { recursive: true })
    writeFileSync(join(root, 'src', path), text)
  }
  return { src: join(root, 'src'), dispose: () => rmSync(root, { recursive: true, force: true }) }
}

test("src/ follows the pipeline's direction: no edge against it", () => {
  assert.equal(checkImports(join(__dirname, '..', '..', 'src')), [])
})

test('an edge against the pipeline is reported: collect calling into the pipeline, a sink calling back into the batchers', () => {
  const t = tree({
    'collect/metrics.ts': "import { flushAll } from '../pipeline/registry.js'\nexport const f = flushAll\n",
    'pipeline/registry.ts': 'export async function flushAll() {}\n',
    'sinks/memory.ts': "export const drain = () => import('../pipeline/registry.js')\n",
    'agent/agent.ts': "import type { Sink } from '../sinks/sink.js'\nexport type S = Sink\n",
    'sinks/sink.ts': 'export interface Sink { send(): void }\n',
  })
  try {
    const edges = checkImports(t.src).map((e) => `${e.file} ${e.from}→${e.to}${e.typeOnly ? ' (types)' : ''}`).sort()
    assert.equal(edges, [
      'src/agent/agent.ts agent→sinks (types)',
      'src/collect/metrics.ts collect→pipeline',
      'src/sinks/memory.ts sinks→pipeline',
    ])
  } finally {
    t.dispose()
  }
})

test('a folder the table does not place, and an import leaving src/, are reported too', () => {
  const t = tree({
    'demo/app.ts': "import { metrics } from '../metrics.js'\nexport const m = metrics\n",
    'metrics.ts': 'export const metrics = {}\n',
    'util/x.ts': "import '../../bench/lib.js'\n",
  })
  try {
    assert.equal(checkImports(t.src).map((e) => `${e.from}→${e.to}`).sort(), ['demo→metrics', 'util→outside src (../../bench/lib.js)'])
  } finally {
    t.dispose()
  }
})

test('type-only imports are told apart, in every spelling', () => {
  const found = importsOf('a.ts', [
    "import type { A } from './a.js'",
    "import { type B, type C } from './b.js'",
    "import { type D, e } from './d.js'",
    "export type { F } from './f.js'",
    "export { g } from './g.js'",
    "const h = await import('./h.js')",
    "let i: import('./i.js').I",
    "import 'node:fs'",
  ].join('\n'))
  assert.equal(found, [
    { spec: './a.js', typeOnly: true },
    { spec: './b.js', typeOnly: true },
    { spec: './d.js', typeOnly: false },
    { spec: './f.js', typeOnly: true },
    { spec: './g.js', typeOnly: false },
    { spec: './h.js', typeOnly: false },
    { spec: './i.js', typeOnly: true },
  ])
})

test.run()
