/** Node programs run as a child process, the way a user or the CI runs them. */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'

/** What a child process left behind. */
export interface NodeRun {
  /** Exit code; `null` when a signal ended it (the time limit's SIGKILL, for one). */
  code: number | null
  stdout: string
  stderr: string
}

/** The repository's root: where package.json, README.md, bench/ and src/ are. */
export const ROOT = join(__dirname, '..', '..')

/**
 * Runs `node <args>` (this Node) in `cwd` (default the repository's root) and collects its output. After
 * `timeoutMs` (default 60 s) SIGKILL goes to the child's whole process group, so a hung child fails its test
 * instead of hanging the run: killing the child alone left the processes it had started (a bench's servers)
 * running, holding its output pipes open, and the test waited for them to close for as long as they lived. With
 * `coverage: false` the child reports none (NODE_V8_COVERAGE removed): a benchmark exercises dist/, not the tests.
 * Since its own group no longer hears a terminal's Ctrl-C, a child still running when this process exits or is
 * interrupted (SIGINT, SIGTERM, SIGHUP) gets SIGKILL too (`endRunning`).
 *
 * @example
 * const { code, stdout } = await runNode(['bench/run.mjs', '--quick'], { coverage: false })
 */
export function runNode(
  args: readonly string[], options: { cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs?: number, coverage?: boolean } = {},
): Promise<NodeRun> {
  const env = { ...(options.env ?? process.env) }
  if (options.coverage === false) delete env.NODE_V8_COVERAGE
  return new Promise((resolve, reject) => {
    // Its own process group (detached), so that the time limit reaches whatever it started.
    const child = spawn(process.execPath, args, { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    watchForEnd()
    running.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => killGroup(child), options.timeoutMs ?? 60_000)
    child.on('error', (error) => { clearTimeout(timer); running.delete(child); reject(error) })
    child.on('close', (code) => { clearTimeout(timer); running.delete(child); resolve({ code, stdout, stderr }) })
  })
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL')
  } catch {
    child.kill('SIGKILL') // no group to signal (already gone, or a platform without process groups)
  }
}

/** Children started by runNode that have not closed yet. */
const running = new Set<ChildProcess>()
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
let watching = false

/**
 * Ends every running child's group when this process ends: on `exit`, and on a signal that would end it, after
 * which the signal is raised again with no listener left, so the process ends the way it would have.
 */
function watchForEnd(): void {
  if (watching) return
  watching = true
  process.once('exit', endRunning)
  for (const signal of SIGNALS) {
    process.once(signal, () => {
      endRunning()
      process.kill(process.pid, signal)
    })
  }
}

function endRunning(): void {
  for (const child of running) killGroup(child)
  running.clear()
}
