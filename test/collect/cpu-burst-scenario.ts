/*
 * The accuracy scenario (cpu-scenario.ts), run by cpu.test.ts and cpu-pooled.test.ts in a process of its own:
 *
 *   node --import tsx test/collect/cpu-burst-scenario.ts [redis url]   ─► one JSON line on stdout
 *
 * With a redis url, every request reads `k` over ONE node-redis connection shared by all, around each of its
 * waits (pooled); without, the requests only burn and sleep (plain). Why a process of its own: a sleeper's
 * CpuTime is its own callbacks' CPU (the listener, its timer, the reply continuations, node-redis's write when
 * it queued first), and in the test runner's process, after the rest of the suite, the same code cost several
 * times more. bench/cpu-accuracy.mjs on Node 24, 2-core Xeon VM: pooled runs after plain ones in one process put
 * a sleeper over 2 ms in 10 of 78 runs, pooled runs alone in none of 18. That is what the scenario costs, not
 * what the clock attributes, which is what the tests are about.
 */
import { createClient } from 'redis'
import { runBurst, scenarioApp, threadSource, type Burn, type Verdict } from './cpu-scenario.js'
import { printScenario } from '../support/scenario-process.js'

/** What the scenario prints. */
export interface BurstScenario {
  records: number
  sleepers: number
  threadSource: string
  verdict: Verdict
}

async function main(url: string | undefined): Promise<BurstScenario> {
  const burned = new Map<string, Burn>()
  const client = url === undefined ? undefined : createClient({ url })
  await client?.connect()
  try {
    await client?.set('k', 'v')
    const app = client === undefined ? scenarioApp(burned) : scenarioApp(burned, () => client.get('k'))
    const { records, verdict } = await runBurst(app, burned, 0.25, 2)
    return { records: records.length, sleepers: records.filter((r) => r.route === 'sleep').length, threadSource, verdict }
  } finally {
    await client?.close()
  }
}

printScenario(main(process.argv[2]))
