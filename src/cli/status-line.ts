/** The agent's periodic one-line status, computed from two stats snapshots. */
import type { AgentStats } from '../agent/agent-stats.js'
import { dropTotals } from '../util/drops.js'

/**
 * `entries/s 12.0 · requests/s 18,500 · lag 0 · pending 2 · retries 0 · dead-lettered 0`, then `dropped <reason> <n>`
 * for each kind of drop the agent process counted since it started (none: nothing more). `lag ?` when Redis
 * did not say (see `AgentStats.lag`).
 *
 * @example
 * setInterval(() => { const now = agent.stats(); log(statusLine(prev, now, 5000)); prev = now }, 5000)
 */
export function statusLine(previous: AgentStats, current: AgentStats, elapsedMs: number): string {
  const seconds = Math.max(elapsedMs, 1) / 1000
  const rate = (a: number, b: number): string => Math.round((b - a) / seconds).toLocaleString('en-US')
  return [
    `entries/s ${rate(previous.entries, current.entries)}`,
    `requests/s ${rate(previous.requests, current.requests)}`,
    `lag ${current.lag ?? '?'}`,
    `pending ${current.pending}`,
    `retries ${current.retries}`,
    `dead-lettered ${current.deadLettered}`,
    current.connected ? '' : 'redis disconnected',
    // What this agent process dropped since it started, by reason (StatsD lines its kernel refused are `sink`).
    Object.entries(dropTotals()).map(([reason, n]) => `dropped ${reason} ${n.toLocaleString('en-US')}`).join(' · '),
  ].filter((part) => part !== '').join(' · ')
}
