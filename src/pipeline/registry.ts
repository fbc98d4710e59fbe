import type { Sink } from '../sinks/sink.js'
import { report } from '../util/warn.js'
import type { Batcher } from './batcher.js'

// Every live batcher, in creation order. The first one also carries the process-level records. Wrappers
// normally live as long as the process, so this is a strong set; `closeAll` empties it.
const batchers = new Set<Batcher>()

/**
 * Adds a batcher; returns a function that tells whether it is the primary one (the carrier of the
 * process-level records).
 *
 * @example
 * const isPrimary = register(batcher)
 */
export function register(batcher: Batcher): () => boolean {
  batchers.add(batcher)
  return () => batchers.values().next().value === batcher
}

/**
 * What `metrics.flush()` does. The pipeline drives it, in the order records travel: every batcher sends what
 * it holds, then every distinct sink pushes out its own buffer. A sink never reaches back into the batchers.
 *
 * @example
 * await flushAll()
 */
export async function flushAll(): Promise<void> {
  const all = [...batchers]
  await Promise.all(all.map((b) => b.flush()))
  await Promise.all(distinctSinks(all).map(([sink]) => sink.flush()))
}

/**
 * What `metrics.flush()` does, for one sink: flushes the batchers feeding `sink`, then `sink`. For a test or
 * a tool that owns one sink among others it should not wait for.
 *
 * @example
 * await flushSink(sink)
 */
export async function flushSink(sink: Sink): Promise<void> {
  await Promise.all([...batchers].filter((b) => b.sink === sink).map((b) => b.flush()))
  await sink.flush()
}

/**
 * What `metrics.close()` does, within `timeoutMs` (default 5000) in all, and 50 ms for the sinks to count what they
 * give up on: every batcher flushes and stops (what it gives up on at the bound is counted as `close` drops),
 * then each distinct sink is closed once with what is left of the bound, so a sink shared by several wrappers
 * (the default one) is not closed while one of them still sends to it. Forgets every batcher.
 *
 * @example
 * process.on('SIGTERM', () => closeAll(5000).then(() => process.exit(0)))
 */
export async function closeAll(timeoutMs?: number): Promise<void> {
  const bound = closeBound(timeoutMs)
  const all = [...batchers]
  batchers.clear()
  const deadline = Date.now() + bound
  await Promise.all(all.map((b) => b.close(bound)))
  // Each sink is told the rest of the bound, and waited for a little longer, so that it has given up and counted
  // what it gave up on before this resolves: a SIGTERM handler exits right after. Before, a sink kept its own
  // bound, the Redis sink 5 s like this one but started later, and counted its backlog after close() had
  // resolved: `await metrics.close(); process.exit(0)` lost it uncounted.
  const left = Math.max(0, deadline - Date.now())
  const closing = Promise.all(distinctSinks(all).map(([sink, onError]) =>
    Promise.resolve().then(() => sink.close(left)).catch((error: unknown) => report(onError, error))))
  let timer: NodeJS.Timeout | undefined
  // Not unref'd, like the batchers' bound: whoever awaits close() (a SIGTERM handler) wants it to finish.
  const expired = new Promise<void>((resolve) => { timer = setTimeout(resolve, left + SINK_CLOSE_GRACE_MS) })
  await Promise.race([closing, expired])
  clearTimeout(timer)
}

/**
 * How long past its bound `metrics.close()` waits for a sink to finish giving up: the sink's own timer falls due
 * with the bound, and counting what it gives up on takes promise jobs and, for the Redis sink, one loop turn.
 * It also caps the wait for a sink that does not keep to the bound it is given.
 */
const SINK_CLOSE_GRACE_MS = 50

/** The longest delay a Node timer takes (2^31 - 1 ms); a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * `metrics.close()`'s bound in ms, from whatever the app passed: 5000 when left out or not a number (NaN told every
 * sink to give up at once), 0 for a negative one, and short enough that no timer of it overflows (one past
 * 2^31 - 1 ms fires after 1 ms). Never throws: `metrics.*` does not.
 *
 * @example
 * closeBound(undefined) // 5000
 * closeBound(-1) // 0
 */
export function closeBound(timeoutMs: unknown): number {
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs)) return 5000
  return Math.min(Math.max(timeoutMs, 0), MAX_TIMER_MS - SINK_CLOSE_GRACE_MS)
}

/** Each sink fed by `all` once, with the error hook of the first batcher feeding it. */
function distinctSinks(all: Batcher[]): Array<[Sink, Batcher['onError']]> {
  const sinks = new Map<Sink, Batcher['onError']>()
  for (const b of all) if (!sinks.has(b.sink)) sinks.set(b.sink, b.onError)
  return [...sinks]
}
