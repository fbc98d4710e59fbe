/**
 * Skip policy for suites that need a real service binary. A plain `npm test` on a machine without
 * `redis-server` or `influxd` skips those suites with one line on stderr saying what to install;
 * `ROUTEMETER_REQUIRE_SERVICES=1` (set by `.ci/run`) turns a missing binary into a loud failure.
 */
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { createServer } from 'node:net'
import { until } from './eventually.js'

/** Where a binary is on PATH (or the absolute path given), or undefined. */
export function findBinary(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const full = join(dir, name)
    if (dir !== '' && isExecutable(full)) return full
  }
  return undefined
}

function isExecutable(path: string): boolean {
  try { accessSync(path, constants.X_OK); return true } catch { return false }
}

/**
 * True when every binary is present. Otherwise writes one line to stderr and returns false, or throws when
 * `ROUTEMETER_REQUIRE_SERVICES=1`.
 */
export function servicesAvailable(suite: string, needs: ReadonlyArray<{ binary: string, debian: string }>): boolean {
  for (const { binary, debian } of needs) {
    if (findBinary(binary) !== undefined) continue
    const missing = `\`${binary}\` not found on PATH (install the Debian package \`${debian}\`: apt-get install ${debian})`
    if (process.env.ROUTEMETER_REQUIRE_SERVICES === '1') {
      throw new Error(`${suite}: ${missing}, and ROUTEMETER_REQUIRE_SERVICES=1 makes this suite mandatory`)
    }
    process.stderr.write(`[skip] ${suite}: skipped, ${missing}\n`)
    return false
  }
  return true
}

export const REDIS = { binary: 'redis-server', debian: 'redis-server' }
export const INFLUXD = { binary: 'influxd', debian: 'influxdb' }
export const PROMETHEUS = { binary: 'prometheus', debian: 'prometheus' }

/** A loopback TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Child processes still alive at exit are killed, so a failing test never leaves a server behind. */
const children = new Set<{ kill(signal?: NodeJS.Signals): boolean }>()
process.once('exit', () => { for (const child of children) { try { child.kill('SIGKILL') } catch { /* gone */ } } })
export function trackChild(child: { kill(signal?: NodeJS.Signals): boolean }): () => void {
  children.add(child)
  return () => { children.delete(child) }
}

/**
 * Ends a child process: `signal` (SIGTERM unless told), then SIGKILL if it is still there after `graceMs`.
 * Resolves once it has exited; at once when it already had.
 *
 * @example
 * await stopChild(influxd, 5000)
 */
export async function stopChild(child: ChildProcess, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

export { sleep } from './eventually.js'

/**
 * Polls `check` until it returns true or `timeoutMs` passes; throws with `what` on timeout. For a service
 * starting up, a check that throws (connection refused) means "not yet"; a test's own condition uses `until`
 * (./eventually.ts), where a throw is a failure.
 *
 * @example
 * await waitFor('redis-server on port 6390', () => ping(6390), 10_000)
 */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 25): Promise<void> {
  await until(async () => {
    try { return await check() } catch { return false }
  }, what, timeoutMs, everyMs)
}
