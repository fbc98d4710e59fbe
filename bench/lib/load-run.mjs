// Driving the load generator (load.mjs) from a bench script: the steps every script took by hand (wait for it
// to be ready, start a run, wait for every connection, end the run, fail on any error it saw) in one place.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ask, spawnNode } from './child.mjs'

const LOAD_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'load.mjs')

/**
 * Spawns a load generator (pinned to `cpu` when given) and resolves with it once it is ready for a run.
 *
 * @example
 * const load = await spawnLoad({ cpu: plan?.load, label: 'load for bare' })
 */
export async function spawnLoad({ cpu, label = 'load' } = {}) {
  const load = spawnNode(LOAD_SCRIPT, [], { cpu })
  await ask(load, null, 'ready', 30_000, label)
  return load
}

/**
 * Starts a run of `load` against `port` and resolves once every connection has had a response (steady
 * state). `finish()` ends the run, lets the requests in flight finish and resolves with load.mjs's report
 * (`total`, `p50Ms`, `p99Ms`, …); it throws when the run saw a transport error or a non-2xx answer, which would
 * make the server's figures those of some other work.
 *
 * @example
 * const run = await startLoad(load, { port, route: 'json', connections: 16 })
 * await sleep(1000)
 * const { total } = await run.finish()
 */
export async function startLoad(load, { port, route, connections, pipelining = 1, label = 'load', runMs = 600_000 }) {
  const connected = ask(load, null, 'connected', 60_000, label)
  const done = ask(load, { type: 'run', port, route, connections, pipelining }, 'done', runMs, label)
  await connected
  return {
    async finish() {
      load.send({ type: 'end' })
      const report = await done
      if (report.error) throw new Error(`${label} on ${route}: the load generator failed: ${report.error}`)
      if (report.errors || report.non2xx) {
        throw new Error(`${label} on ${route}: ${report.errors} errors, ${report.non2xx} non-2xx responses` +
          `${report.firstError ? `; first error: ${report.firstError}` : ''}`)
      }
      return report
    },
  }
}
