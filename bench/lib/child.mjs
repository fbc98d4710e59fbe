// Child processes for the bench: spawned with an IPC channel, optionally pinned to one CPU with taskset
// (every thread of the child, V8's GC helpers included, inherits the affinity), and talked to with
// request/answer messages.
import { spawn, execFileSync } from 'node:child_process'
import os from 'node:os'

let tasksetChecked = null
function hasTaskset() {
  if (tasksetChecked === null) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
      tasksetChecked = true
    } catch {
      tasksetChecked = false
    }
  }
  return tasksetChecked
}

/** CPU numbers for the server and for everything else (load generator, receivers, redis), or null. */
export function cpuPlan() {
  const count = os.availableParallelism?.() ?? os.cpus().length
  if (count < 2 || !hasTaskset()) return null
  return { server: 0, load: 1 }
}

/** Pins this very process (the orchestrator) to one CPU, all threads. */
export function pinSelf(cpu) {
  if (cpu === undefined || cpu === null) return
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' })
}

const live = new Set()

/** Spawns `node script ...args` (pinned to `cpu` when given) with an IPC channel. */
export function spawnNode(script, args, { cpu, nodeArgs = [], env } = {}) {
  const command = cpu === undefined || cpu === null ? process.execPath : 'taskset'
  const argv = [...nodeArgs, script, ...args]
  const full = command === 'taskset' ? ['-c', String(cpu), process.execPath, ...argv] : argv
  const child = spawn(command, full, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: env ?? process.env })
  live.add(child)
  child.once('exit', () => live.delete(child))
  return child
}

/** Spawns any command (redis-server), pinned when asked, remembered for cleanup. */
export function spawnCommand(file, args, { cpu } = {}) {
  const child = cpu === undefined || cpu === null
    ? spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('taskset', ['-c', String(cpu), file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  child.once('exit', () => live.delete(child))
  return child
}

/** Kills every child this process started and that is still running. */
export function killAll() {
  for (const child of live) {
    try { child.kill('SIGKILL') } catch { /* already gone: this is cleanup on the way out */ }
  }
  live.clear()
}

/**
 * Sends `msg` (when given) and resolves with the first message of type `want`. Rejects on a message of
 * type `error`, on the child's exit, or after `timeoutMs`.
 */
export function ask(child, msg, want, timeoutMs = 30_000, label = 'child') {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${label}: no '${want}' within ${timeoutMs} ms`)), timeoutMs)
    function onMessage(m) {
      if (m.type === want) done(null, m)
      else if (m.type === 'error') done(new Error(`${label}: ${m.message}`))
    }
    function onExit(code, signal) { done(new Error(`${label} exited (${signal ?? code}) while waiting for '${want}'`)) }
    function done(err, value) {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
      err ? reject(err) : resolve(value)
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
    if (msg) child.send(msg)
  })
}
