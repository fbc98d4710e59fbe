/** The agent's counters, shared by `startAgent` and the CLI's status line. */

/** What an agent has done since it started. */
export interface AgentStats {
  /** Entries published to every publisher and acked. */
  readonly entries: number
  /** Records in those entries (requests plus process records). */
  readonly records: number
  /** Request records in those entries: the number of HTTP requests moved. */
  readonly requests: number
  /**
   * Entries in the stream the group has not read yet (XINFO GROUPS `lag`, refreshed every second); null while
   * unknown: before the first refresh, when Redis cannot count them (entries deleted or trimmed before the group
   * read them: Redis replies nil) or has no such field (before 7.0). Never 0 for unknown, which reads as caught up.
   */
  readonly lag: number | null
  /** Entries read by the group but not yet acked, all consumers (XINFO GROUPS `pending`). */
  readonly pending: number
  /** Failed publish attempts that were retried. */
  readonly retries: number
  /** Entries moved to the dead-letter stream. */
  readonly deadLettered: number
  /** Entries taken over from other consumers' pending lists. */
  readonly reclaimed: number
  /** Pending entries that were already trimmed from the stream (MAXLEN) when claimed: lost before any agent read them. */
  readonly trimmed: number
  /** Both Redis connections are up. */
  readonly connected: boolean
}

export type MutableAgentStats = { -readonly [K in keyof AgentStats]: AgentStats[K] }

/**
 * A zeroed stats object.
 *
 * @example
 * const stats = agentStats(); stats.entries++
 */
export function agentStats(): MutableAgentStats {
  return {
    entries: 0, records: 0, requests: 0, lag: null, pending: 0, retries: 0, deadLettered: 0, reclaimed: 0, trimmed: 0, connected: false,
  }
}
