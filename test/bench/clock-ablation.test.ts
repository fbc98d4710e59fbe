import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT as root, runNode } from '../support/run-node.js'

// The paired rows rm-discard-noidle and rm-discard-noreads run on copies of dist/ whose attributed clock has its
// idle reads, or all its reads, taken out (bench/lib/clock-ablation.mjs), found by their compiled lines: this fails
// when the source moves one, and shows that each copy is what its row claims. Needs a built dist/ (`pretest`).

const dist = path.join(root, 'dist')
const module = pathToFileURL(path.join(root, 'bench', 'lib', 'clock-ablation.mjs')).href

/** Runs ablatedBuild(dist, name) twice in a child (the bench is plain JavaScript): both paths, or the error. */
async function ablate(name: string): Promise<{ copy?: string, again?: string, error?: string }> {
  const script = `import { ablatedBuild } from ${JSON.stringify(module)}
try {
  const copy = ablatedBuild(${JSON.stringify(dist)}, ${JSON.stringify(name)})
  console.log(JSON.stringify({ copy, again: ablatedBuild(${JSON.stringify(dist)}, ${JSON.stringify(name)}) }))
} catch (error) { console.log(JSON.stringify({ error: error.message })) }`
  const { code, stdout, stderr } = await runNode(['--input-type=module', '-e', script], { coverage: false })
  assert.is(code, 0, stderr)
  return JSON.parse(stdout) as { copy?: string, again?: string, error?: string }
}

/** How often `text` occurs in the compiled attributed clock under `build`. */
function occurrences(build: string, text: string): number {
  return fs.readFileSync(path.join(build, 'collect', 'cpu-attributed.js'), 'utf8').split(text).length - 1
}

/**
 * CpuTime of three requests to a server wrapped by the build in `build`, each burning 4 ms before and after a
 * `setImmediate` hop: ≈ 8 ms each with a clock that reads, ≈ 0 with one that does not. The burns run for 8 ms of
 * wall time, and the clock bills thread CPU: with the test suites sharing the cores, CI saw 5.8 ms. Above 2 ms
 * tells a clock that measures from one that reads nothing (under 0.01 ms) with room on both sides.
 */
async function cpuTimes(build: string): Promise<number[]> {
  const script = `const rm = require(${JSON.stringify(path.join(build, 'index.js'))})
const http = require('node:http')
const burn = (ms) => { const until = performance.now() + ms; while (performance.now() < until); }
const sink = rm.memorySink()
const server = http.createServer(rm.withMetrics(async (req, res) => {
  burn(4)
  await new Promise((resolve) => setImmediate(resolve))
  burn(4)
  res.end('ok')
}, { sink }))
server.listen(0, '127.0.0.1', async () => {
  for (let i = 0; i < 3; i++) await (await fetch('http://127.0.0.1:' + server.address().port + '/x')).text()
  await rm.metrics.flush()
  console.log(JSON.stringify(sink.records().filter((r) => r.kind === 'request').map((r) => r.timers.CpuTime)))
  server.close()
  await rm.metrics.close()
})`
  const { code, stdout, stderr } = await runNode(['-e', script], { coverage: false })
  assert.is(code, 0, stderr)
  return JSON.parse(stdout) as number[]
}

test('no-idle: the switches read no idle time, and the copy still measures', async () => {
  assert.ok(fs.existsSync(path.join(dist, 'index.js')), 'dist/index.js is missing: run npm run build first')
  const { copy, again, error } = await ablate('no-idle')
  assert.is(error, undefined)
  try {
    assert.is(again, copy, 'the second server of a run reuses the first one\'s copy')
    // switchTo, enter and close read it in the build; the install, `at` and a block's running read keep theirs.
    assert.is(occurrences(copy!, 'loop.idleTime'), occurrences(dist, 'loop.idleTime') - 3)
    assert.is(occurrences(copy!, 'performance.now()'), occurrences(dist, 'performance.now()'))
    for (const cpu of await cpuTimes(copy!)) assert.ok(cpu > 2 && cpu < 40, `CpuTime ${cpu} ms for 8 ms of burns`)
  } finally {
    fs.rmSync(path.dirname(copy!), { recursive: true, force: true })
  }
})

test('no-reads: the switches read no clock, and CpuTime comes out ≈ 0 where the build measures 8 ms', async () => {
  const { copy, error } = await ablate('no-reads')
  assert.is(error, undefined)
  try {
    assert.is(occurrences(copy!, 'loop.idleTime'), occurrences(dist, 'loop.idleTime') - 3)
    assert.is(occurrences(copy!, 'performance.now()'), occurrences(dist, 'performance.now()') - 2)
    for (const cpu of await cpuTimes(copy!)) assert.ok(cpu >= 0 && cpu < 0.01, `CpuTime ${cpu} ms without clock reads`)
    for (const cpu of await cpuTimes(dist)) assert.ok(cpu > 2 && cpu < 40, `CpuTime ${cpu} ms for 8 ms of burns`)
  } finally {
    fs.rmSync(path.dirname(copy!), { recursive: true, force: true })
  }
})

test('an unknown ablation is refused by name', async () => {
  const { copy, error } = await ablate('no-such-thing')
  assert.is(copy, undefined)
  assert.match(error ?? '', /unknown clock ablation no-such-thing; known: no-idle, no-reads/)
})

test.run()
