import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { eventually } from '../support/eventually.js'
import { ROOT as root, runNode } from '../support/run-node.js'

// A bench whose parent dies leaves nothing behind. Once, `bench/run.mjs` hit the harness test's time limit on a
// loaded machine: the limit killed run.mjs alone, its servers and load generators kept running (one of them at
// 60 % of a core for 24 minutes), and since they held the test's output pipes, the test never ended and CI hung.

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Those of `pids` still alive once all are gone or 5 s have passed. */
const survivors = (pids: number[]): Promise<number[]> => eventually(() => pids.filter(alive), [])

test('runNode\'s time limit ends what the child started too, so a hung bench fails its test instead of hanging it', async () => {
  // The child starts a grandchild that shares its output pipes, prints the grandchild's pid, and hangs. The
  // grandchild ends by itself after 30 s, so that a regression fails this test rather than hanging the run.
  const script = `const { spawn } = require('node:child_process')
const g = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30_000)'], { stdio: 'inherit' })
process.stdout.write(g.pid + '\\n')
setInterval(() => {}, 1000)`
  const run = runNode(['-e', script], { timeoutMs: 1500, coverage: false })
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<'hung'>((resolve) => { timer = setTimeout(() => resolve('hung'), 20_000) })
  const outcome = await Promise.race([run, hung])
  clearTimeout(timer)
  assert.ok(outcome !== 'hung', 'runNode did not return 20 s after its 1.5 s time limit')
  assert.is(outcome.code, null, 'the time limit ends the child with a signal')
  const grandchild = Number(outcome.stdout.trim())
  assert.ok(grandchild > 0, `grandchild pid: ${outcome.stdout}`)
  const left = await survivors([grandchild])
  for (const pid of left) process.kill(pid, 'SIGKILL')
  assert.equal(left, [], 'the grandchild outlived the time limit')
})

for (const end of ['exits', 'is interrupted (SIGINT, as by Ctrl-C)'] as const) {
  test(`a child runNode started ends when the test process ${end}`, async () => {
    // runNode's children run in a group of their own, which a terminal's Ctrl-C does not reach. A process using
    // runNode starts a child that writes its pid to a file and would live 30 s, then ends while it runs.
    const dir = mkdtempSync(path.join(tmpdir(), 'rm-orphans-'))
    const pidFile = path.join(dir, 'pid')
    const child = `require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setTimeout(() => {}, 30_000)`
    const ending = end === 'exits' ? 'process.exit(0)' : "process.kill(process.pid, 'SIGINT')"
    const script = `const { existsSync } = require('node:fs')
const { runNode } = require(${JSON.stringify(path.join(root, 'test', 'support', 'run-node.ts'))})
runNode(['-e', ${JSON.stringify(child)}], { coverage: false })
const wait = setInterval(() => { if (existsSync(${JSON.stringify(pidFile)})) { clearInterval(wait); ${ending} } }, 10)`
    try {
      const { code, stderr } = await runNode(['-r', 'tsx', '-e', script], { timeoutMs: 30_000, coverage: false })
      assert.is(code, end === 'exits' ? 0 : null, `the parent ends as it would have: ${stderr}`)
      const pid = Number(readFileSync(pidFile, 'utf8'))
      assert.ok(pid > 0)
      const left = await survivors([pid])
      for (const p of left) process.kill(p, 'SIGKILL')
      assert.equal(left, [], 'the child outlived the process that started it')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

test('a bench server and load generator exit when their parent dies without telling them', async () => {
  // The parent forks both (as bench/lib/child.mjs does: an IPC channel each), waits until they are ready,
  // prints their pids and dies by SIGKILL, which no handler can see.
  const server = path.join(root, 'bench', 'server.mjs')
  const load = path.join(root, 'bench', 'load.mjs')
  const script = `const { fork } = require('node:child_process')
const ready = (child) => new Promise((resolve) => child.on('message', (m) => { if (m.type === 'ready') resolve() }))
const opts = { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] }
const server = fork(${JSON.stringify(server)}, ['bare', '{}'], opts)
const load = fork(${JSON.stringify(load)}, [], opts)
Promise.all([ready(server), ready(load)]).then(() => {
  process.stdout.write(JSON.stringify([server.pid, load.pid]))
  process.kill(process.pid, 'SIGKILL')
})`
  const { code, stdout, stderr } = await runNode(['-e', script], { timeoutMs: 30_000, coverage: false })
  assert.is(code, null, stderr)
  const pids = JSON.parse(stdout.trim()) as number[]
  assert.is(pids.length, 2)
  const left = await survivors(pids)
  for (const pid of left) process.kill(pid, 'SIGKILL')
  assert.equal(left, [], `still running after their parent died: ${left.join(', ')}`)
})

test.run()
