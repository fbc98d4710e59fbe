/** Records as an agent gets them: encoded into a stream entry, then read back. */
import type { MetricRecord } from '../../src/wire/record.js'
import { agentEntry } from '../../src/agent/aggregate.js'
import type { AgentEntry } from '../../src/agent/publisher.js'
import { decodeEntry, encodeBatch } from '../../src/wire/stream-encoding.js'

/** One stream entry's fields, as XADD takes them. */
export interface RawEntry { id: string, v: string, n: number, p: string }

/**
 * `batch` encoded (schema `version`, the current one unless told) into the entry `id`, as XADD would store it.
 * Throws when the batch does not fit in one entry: a test that needs several says so with `encodeBatch`.
 *
 * @example
 * const e = rawEntry('1763798400000-0', records)
 * await client.xAdd('s', e.id, { v: e.v, n: String(e.n), p: e.p })
 */
export function rawEntry(id: string, batch: MetricRecord[], version?: 1 | 2): RawEntry {
  const { entries } = encodeBatch(batch, undefined, version === undefined ? undefined : { version })
  if (entries.length !== 1) throw new Error(`the batch of ${batch.length} records made ${entries.length} entries, not one`)
  return { id, ...entries[0] }
}

/**
 * `batch` as the agent reads the entry `id` back: the argument publishers get.
 *
 * @example
 * await publisher.publish([entryOf('1763798400000-0', [record()])])
 */
export function entryOf(id: string, batch: MetricRecord[], version?: 1 | 2): AgentEntry {
  return decoded(rawEntry(id, batch, version))
}

/**
 * A stored entry as the agent reads it.
 *
 * @example
 * await publisher.publish(raw.map(decoded))
 */
export function decoded(entry: RawEntry): AgentEntry {
  return agentEntry(entry.id, decodeEntry(entry.v, entry.p))
}
