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

test('scaledClockBuild copies the build with the clock thresholds scaled, and the copy loads', async () => {
  const dist = path.join(root, 'dist')
  assert.ok(fs.existsSync(path.join(dist, 'index.js')), 'dist/index.js is missing: run npm run build first')
  const { copy, error } = await scale(dist)
  assert.is(error, undefined)
  try {
    const clock = fs.readFileSync(path.join(copy!, 'collect', 'cpu-attributed.js'), 'utf8')
    const refund = fs.readFileSync(path.join(copy!, 'collect', 'gc-refund.js'), 'utf8')
    assert.match(fs.readFileSync(path.join(dist, 'collect', 'cpu-attributed.js'), 'utf8'), /^const LONG_HOLD_MS = 1;$/m)
    assert.match(clock, /^const LONG_HOLD_MS = 100;$/m)
    assert.match(clock, /^const CPU_SAMPLE_MS = 100;$/m)
    assert.match(refund, /^exports\.MIN_KEPT_MS = 20;$/m)
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
