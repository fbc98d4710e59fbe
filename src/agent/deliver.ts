/**
 * Hands a read's entries to every publisher and decides each entry's fate:
 *
 * ```
 * entries ─┬─► publisher A ── ok ──────────────────────────────┐
 *          ├─► publisher B ── transient error ─► backoff, retry B only (A is not asked again)
 *          └─► publisher C ── permanent error ─► one by one ─► the bad entry: dead-letter
 *                                                             the rest: ok ─┴─► ack
 * ```
 *
 * Publishers retry independently, so a StatsD that took an entry never sees it twice because InfluxDB
 * was down. Transient failures retry until they succeed or the agent's drain deadline aborts the work
 * (the entries then stay pending in Redis for the next agent).
 */
import type { AgentEntry, Publisher } from './publisher.js'
import { PublishError } from './publisher.js'
import { backoffDelay, sleep } from './backoff.js'

/**
 * Thrown out of {@link deliver} when the abort signal fires: the entries must stay unacked.
 *
 * @example
 * try { await deliver(entries, ctx) } catch (e) { if (e instanceof DeliveryAborted) return }
 */
export class DeliveryAborted extends Error {
  override readonly name = 'DeliveryAborted'
}

export interface DeliverContext {
  readonly publishers: readonly Publisher[]
  readonly retryMinMs: number
  readonly retryMaxMs: number
  /** Fires at the drain deadline: stop retrying, leave the entries pending. */
  readonly signal: AbortSignal
  /** Called once per failed attempt (for stats and a once-per-streak warning). */
  onRetry(publisher: Publisher, error: unknown, attempt: number): void
  /** Called every few seconds while retrying, so the entries' idle time stays below the reclaim threshold. */
  keepAlive(entries: readonly AgentEntry[]): void
  readonly keepAliveMs: number
}

/**
 * Publishes `entries` to every publisher. Resolves with the entries refused permanently (id → reason),
 * which the agent dead-letters; every other entry has been accepted by every publisher.
 *
 * @example
 * const refused = await deliver(entries, { publishers, retryMinMs: 250, retryMaxMs: 30_000, signal, keepAliveMs: 20_000, onRetry, keepAlive })
 */
export async function deliver(entries: readonly AgentEntry[], ctx: DeliverContext): Promise<Map<string, string>> {
  if (entries.length === 0) return new Map()
  const results = await Promise.all(ctx.publishers.map((p) => publishTo(p, entries, ctx)))
  const refused = new Map<string, string>()
  for (const result of results) for (const [id, reason] of result) if (!refused.has(id)) refused.set(id, reason)
  return refused
}

async function publishTo(publisher: Publisher, entries: readonly AgentEntry[], ctx: DeliverContext): Promise<Map<string, string>> {
  let attempt = 0
  let lastKeepAlive = Date.now()
  for (;;) {
    if (ctx.signal.aborted) throw new DeliveryAborted('delivery aborted at the drain deadline')
    try {
      await publisher.publish(entries)
      return new Map()
    } catch (error) {
      if (error instanceof PublishError && error.permanent) {
        if (entries.length === 1) return new Map([[entries[0].id, `${publisher.name}: ${error.message}`]])
        // Isolate the bad entry: one by one, so the good ones still land.
        const refused = new Map<string, string>()
        for (const entry of entries) for (const [id, reason] of await publishTo(publisher, [entry], ctx)) refused.set(id, reason)
        return refused
      }
      ctx.onRetry(publisher, error, attempt)
      if (Date.now() - lastKeepAlive >= ctx.keepAliveMs) { lastKeepAlive = Date.now(); ctx.keepAlive(entries) }
      // Never sleep past the keep-alive period, or the entries could look abandoned to other agents.
      await sleep(Math.min(backoffDelay(attempt++, ctx.retryMinMs, ctx.retryMaxMs), ctx.keepAliveMs), ctx.signal)
    }
  }
}
