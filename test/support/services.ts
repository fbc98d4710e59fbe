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
import { suite, type Test } from 'uvu'
import { until } from './eventually.js'

/**
 * Where a binary is on PATH (or the absolute path given), or undefined.
 *
 * @example
 * findBinary('influxd') // '/usr/bin/influxd'
 */
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
 *
 * @example
 * const it = servicesAvailable('test/x.test.ts', [REDIS]) ? test : test.skip
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

/**
 * A loopback TCP port that was free a moment ago.
 *
 * @example
 * const down = influxPublisher({ url: `http://127.0.0.1:${await freePort()}`, db: 'x' }) // nobody listens there
 */
export async function freePort(): Promise<number> {
  // The OS may hand out a port again once it is closed: influxd's two ports, or a redis-server's started beside
  // it, must not be one. A port this process was given once is never returned again.
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await probePort()
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('freePort: the OS kept offering ports already handed out')
}

const handedOut = new Set<number>()

async function probePort(): Promise<number> {
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
/**
 * Kills `child` at this process's exit if it is still alive then; returns the function that forgets it.
 *
 * @example
 * const untrack = trackChild(spawn('redis-server', args))
 */
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

/** Thrown by {@link untilServing} when the server's process exits before it is ready: there is nothing to wait for. */
export class ServiceExited extends Error {}

/**
 * Waits until `ready()` says the server `child` runs answers; its errors count as "not yet" (a port not listening
 * yet). Rejects at once with {@link ServiceExited}, carrying the end of the child's stderr (when piped), if it
 * exits first: a check that throws inside `waitFor` only reads as "not yet", so such a start waited out its whole
 * time limit and said only that it timed out.
 *
 * @example
 * await untilServing(proc, `redis-server on port ${port}`, () => ping(port), 10_000)
 */
export async function untilServing(
  child: ChildProcess, what: string, ready: () => Promise<boolean>, timeoutMs: number, everyMs = 25,
): Promise<void> {
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000) })
  let exited = false
  child.once('exit', () => { exited = true })
  await until(async () => {
    if (exited) throw new ServiceExited(`${what}: the process exited first: ${stderr.trim() || '(nothing on stderr)'}`)
    try {
      return await ready()
    } catch {
      return false
    }
  }, what, timeoutMs, everyMs)
}

/** What `serviceSuite` gives a test file. */
export interface ServiceSuite {
  /** The uvu suite, for tests that need no service. */
  readonly test: Test
  /** The suite for tests that need the services: skipped (with one line on stderr) when a binary is missing. */
  readonly it: (name: string, fn: () => Promise<void> | void) => void
  /** Every binary is there: the suite's own `before` hooks start things only then. */
  readonly available: boolean
  /** Runs `undo` after the current test (the last registered first), passed or failed. */
  cleanup(undo: () => unknown): void
  /**
   * Runs `stop` once the suite is over, after every `after` hook of the test file (the last registered first):
   * the servers stop only once the clients a test file closes in its own `after` are gone.
   */
  atEnd(stop: () => unknown): void
}

/**
 * A uvu suite for tests that need service binaries, with the skip policy of `servicesAvailable` and a
 * per-test cleanup list. `redisSuite` and `influxSuite` build on it.
 *
 * @example
 * const { test, it, available } = serviceSuite('agent → statsd', 'test/agent/statsd-daemon.test.ts', [REDIS])
 */
export function serviceSuite(name: string, file: string, needs: ReadonlyArray<{ binary: string, debian: string }>): ServiceSuite {
  const test = suite(name)
  const available = servicesAvailable(`${file} (${name})`, needs)
  const undo: Array<() => unknown> = []
  const stops: Array<() => unknown> = []
  test.after.each(async () => { for (const f of undo.splice(0).reverse()) await f() })
  // uvu runs `after` hooks in the order they were added: this one is added last, when the file calls run().
  const run = test.run
  test.run = () => {
    test.after(async () => { for (const f of stops.splice(0).reverse()) await f() })
    run()
  }
  return { test, it: available ? test : test.skip, available, cleanup(f) { undo.push(f) }, atEnd(f) { stops.push(f) } }
}

/**
 * A stand-in for a server a suite starts in its `before` hook: it forwards to what `current()` returns then,
 * so a test file can take it at the top (`const { redis } = redisSuite(…)`) and use it inside its tests.
 *
 * @example
 * let server: RedisServer | undefined
 * const redis = lateBound('redis-server', () => server)
 */
export function lateBound<T extends object>(what: string, current: () => T | undefined): T {
  return new Proxy({} as T, {
    get(_, key) {
      const target = current()
      if (target === undefined) throw new Error(`${what} is not running here: use it inside a test of its suite`)
      const value: unknown = Reflect.get(target, key, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}
