/**
 * Scenarios that run in a process of their own (a fresh heap, V8 flags of their own): the child script prints
 * its figures as one JSON line, and the test asserts on them.
 */
import { runNode } from './run-node.js'

/**
 * In the child: prints what `result` resolves to as one JSON line, or the error on stderr with exit code 1.
 *
 * @example
 * printScenario(main())
 */
export function printScenario(result: Promise<unknown>): void {
  result.then((value) => { process.stdout.write(JSON.stringify(value) + '\n') }, (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exitCode = 1
  })
}

/**
 * In the test: runs `node [nodeArgs] --import tsx <script> [args]` from the repository's root and returns what it
 * printed, parsed. Throws with the child's stderr when it exits otherwise than with 0.
 *
 * @example
 * const figures = await runScenario<GcScenario>('test/collect/gc-refund-scenario.ts', { nodeArgs: ['--single-threaded-gc'] })
 */
export async function runScenario<T>(script: string, options: { nodeArgs?: string[], args?: string[] } = {}): Promise<T> {
  const run = await runNode([...options.nodeArgs ?? [], '--import', 'tsx', script, ...options.args ?? []])
  if (run.code !== 0) throw new Error(`${script} exited with ${run.code}: ${run.stderr}`)
  return JSON.parse(run.stdout) as T
}
