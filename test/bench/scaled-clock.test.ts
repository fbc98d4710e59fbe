import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT as root, runNode } from '../support/run-node.js'

// bench/instructions.mjs --clock-scale runs on a copy of dist/ whose attributed clock has its thresholds scaled
// (bench/lib/scaled-clock.mjs). The copy finds them by their compiled lines: this fails when the source renames
// or moves one. Needs a built dist/ (the `pretest` script builds it).

/** Runs scaledClockBuild(dist, 100) in a child (the bench is plain JavaScript): the copy's path, or the error. */
async function scale(dist: string): Promise<{ copy?: string, error?: string }> {
  const module = pathToFileURL(path.join(root, 'bench', 'lib', 'scaled-clock.mjs')).href
  const script = `import { scaledClockBuild } from ${JSON.stringify(module)}
try { console.log(JSON.stringify({ copy: scaledClockBuild(${JSON.stringify(dist)}, 100) })) }
catch (error) { console.log(JSON.stringify({ error: error.message })) }`
  const { code, stdout, stderr } = await runNode(['--input-type=module', '-e', script], { coverage: false })
  assert.is(code, 0, stderr)
  return JSON.parse(stdout) as { copy?: string, error?: string }
}

/** The compiled declarations the copy scales, by file (written as tsc emits them). */
const THRESHOLDS = [
  ['cpu-attributed.js', 'const LONG_HOLD_MS'],
  ['cpu-attributed.js', 'const CPU_SAMPLE_MS'],
  ['cpu-attributed.js', 'const CPU_SAMPLE_MAX_MS'],
  ['cpu-attributed.js', 'const MISSED_BUDGET_MS'],
  ['gc-refund.js', 'exports.MIN_KEPT_MS'],
] as const

/** The number a line `declaration = <number>;` sets in `file` (tsc also emits `= void 0;` first); NaN when none does. */
function thresholdIn(file: string, declaration: string): number {
  const prefix = `${declaration} = `
  const line = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(prefix) && /^[\d.]+;$/.test(l.slice(prefix.length)))
  return line === undefined ? NaN : Number(line.slice(prefix.length, -1))
}

test('scaledClockBuild copies the build with the clock thresholds scaled, and the copy loads', async () => {
  const dist = path.join(root, 'dist')
  assert.ok(fs.existsSync(path.join(dist, 'index.js')), 'dist/index.js is missing: run npm run build first')
  const { copy, error } = await scale(dist)
  assert.is(error, undefined)
  try {
    // Each threshold in the copy is 100 times the build's, whatever the build's value is today.
    for (const [file, declaration] of THRESHOLDS) {
      const original = thresholdIn(path.join(dist, 'collect', file), declaration)
      assert.ok(original > 0, `${declaration} in ${file}: ${original}`)
      assert.is(thresholdIn(path.join(copy!, 'collect', file), declaration), original * 100, `${declaration} in ${file}`)
    }
    // It loads like dist/, its dependencies through the linked node_modules, and wraps a listener.
    const load = `const rm = require(${JSON.stringify(path.join(copy!, 'index.js'))})
rm.withMetrics((req, res) => res.end(), { sink: rm.memorySink() })
console.log(typeof rm.withMetrics)`
    const { code, stdout, stderr } = await runNode(['-e', load], { coverage: false })
    assert.is(code, 0, stderr)
    assert.is(stdout.trim(), 'function')
  } finally {
    fs.rmSync(path.dirname(copy!), { recursive: true, force: true })
  }
})

test('scaledClockBuild refuses a build where it cannot find a threshold, and leaves no copy behind', async () => {
  const fake = fs.mkdtempSync(path.join(os.tmpdir(), 'routemeter-fake-build-'))
  const dist = path.join(fake, 'dist')
  fs.mkdirSync(path.join(dist, 'collect'), { recursive: true })
  fs.writeFileSync(path.join(fake, 'package.json'), '{}')
  fs.mkdirSync(path.join(fake, 'node_modules'))
  fs.writeFileSync(path.join(dist, 'collect', 'cpu-attributed.js'), 'const LONG_HOLD_MS = 1;\n')
  fs.writeFileSync(path.join(dist, 'collect', 'gc-refund.js'), 'exports.MIN_KEPT_MS = 0.2;\n')
  const copies = () => fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('routemeter-scaled-clock-')).length
  const before = copies()
  try {
    const { copy, error } = await scale(dist)
    assert.is(copy, undefined)
    assert.match(error ?? '', /CPU_SAMPLE_MS.*found 0/)
    assert.is(copies(), before)
  } finally {
    fs.rmSync(fake, { recursive: true, force: true })
  }
})

test.run()
