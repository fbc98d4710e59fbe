import type { Sink } from '../sinks/sink.js'
import type { Batcher } from './batcher.js'

// Every live batcher, in creation order. The first one also ships the process-level collector. Wrappers
// normally live as long as the process, so this is a strong set; `closeAll` empties it.
const batchers = new Set<Batcher>()

/** Adds a batcher; returns a function that tells whether it is the primary one. */
export function register(batcher: Batcher): () => boolean {
  batchers.add(batcher)
  return () => batchers.values().next().value === batcher
}

/** Flushes every batcher, then every distinct sink. */
export async function flushAll(): Promise<void> {
  const all = [...batchers]
  await Promise.all(all.map((b) => b.flush()))
  const sinks = new Set<Sink>(all.map((b) => b.sink))
  await Promise.all([...sinks].map((s) => s.flush()))
}

/** Flushes and closes every batcher and its sink (bounded), and forgets them. */
export async function closeAll(timeoutMs?: number): Promise<void> {
  const all = [...batchers]
  batchers.clear()
  await Promise.all(all.map((b) => b.close(timeoutMs)))
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
