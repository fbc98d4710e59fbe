/**
 * Hands a read's entries to every publisher and decides each entry's fate:
 *
 * ```
 * entries ─┬─► publisher A ── ok ──────────────────────────────┐
 *          ├─► publisher B ── transient error ─► backoff, retry B only (A is not asked again)
 *          ├─► publisher C ── permanent error ─► one by one ─► the bad entry: refused (dead-letter)
 *          └─► publisher D ── unknown error ───► one by one ─► each failed attempt is one more delivery;
 *                                                             at maxDeliveries: refused (dead-letter)
 *                                                             the rest: ok ─┴─► ack
 * ```
 *
 * Publishers retry independently, so a StatsD that took an entry never sees it twice because InfluxDB
 * was down. Transient failures (a PublishError with `permanent: false`: the backend, not the data) retry
 * until they succeed or the agent's drain deadline aborts the work (the entries then stay pending in Redis
 * for the next agent). Any other error is counted per entry, so a thrown TypeError cannot hold the stream
 * forever: see `failure.ts`.
 */
import type { AgentEntry, Publisher } from './publisher.js'
import { failureKind, failureMessage } from './failure.js'
import { backoffDelay, sleep } from '../util/backoff.js'

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
  /** Deliveries after which an entry failing with an unknown error is refused. */
  readonly maxDeliveries: number
  /** Which delivery of entry `id` this is (1 for a fresh read; Redis' counter for a claimed entry). */
  deliveries(id: string): number
  /** Called once per failed attempt that will be retried (for stats and a once-per-streak warning). */
  onRetry(publisher: Publisher, error: unknown, attempt: number): void
  /** Called when a publisher accepted entries, so the agent can report the end of a failure streak. */
  onSuccess(publisher: Publisher): void
  /** Called every few seconds while retrying, so the entries' idle time stays below the reclaim threshold. */
  keepAlive(entries: readonly AgentEntry[]): void
  readonly keepAliveMs: number
  /** An entry is about to get delivery number `delivery`: recorded in Redis so a restart goes on counting. */
  countDelivery(entry: AgentEntry, delivery: number): void
}

/** Why an entry was refused, and after how many deliveries. */
export interface Refusal {
  readonly reason: string
  readonly deliveries: number
}

/**
 * Publishes `entries` to every publisher. Resolves with the entries refused (id → reason and deliveries),
 * which the agent dead-letters; every other entry has been accepted by every publisher. Never rejects
 * except with {@link DeliveryAborted}.
 *
 * @example
 * const refused = await deliver(entries, { publishers, retryMinMs: 250, retryMaxMs: 30_000, maxDeliveries: 5, deliveries: () => 1, … })
 */
export async function deliver(entries: readonly AgentEntry[], ctx: DeliverContext): Promise<Map<string, Refusal>> {
  if (entries.length === 0) return new Map()
  // One count per entry, shared by the publishers: an attempt is a delivery whichever publisher made it.
  const delivered = new Map(entries.map((e) => [e.id, ctx.deliveries(e.id)]))
  const keep = keeper(entries, ctx)
  const results = await Promise.all(ctx.publishers.map((p) => publishTo(p, entries, ctx, delivered, keep)))
  const refused = new Map<string, Refusal>()
  for (const result of results) for (const [id, refusal] of result) if (!refused.has(id)) refused.set(id, refusal)
  return refused
}

/**
 * Keeps the whole read alive, at most once per `keepAliveMs`, whichever publisher or isolated entry is waiting:
 * every entry of it is pending until the agent acks them all after `deliver`. Keeping alive only the entries of
 * the call that retried (one, while isolating) let another agent reclaim the rest and publish them again
 * (with claimIdleMs 300 ms, an entry published by both agents 1.2 s apart, a dead letter written twice).
 */
function keeper(held: readonly AgentEntry[], ctx: DeliverContext): () => void {
  let last = Date.now()
  return () => {
    if (Date.now() - last < ctx.keepAliveMs) return
    last = Date.now()
    ctx.keepAlive(held)
  }
}

async function publishTo(
  publisher: Publisher, entries: readonly AgentEntry[], ctx: DeliverContext, delivered: Map<string, number>, keep: () => void,
): Promise<Map<string, Refusal>> {
  let attempt = 0
  for (;;) {
    if (ctx.signal.aborted) throw new DeliveryAborted('delivery aborted at the drain deadline')
    let error: unknown
    try {
      await publisher.publish(entries)
      ctx.onSuccess(publisher)
      return new Map()
    } catch (thrown) { error = thrown }
    const kind = failureKind(error)
    if (kind === 'permanent' && entries.length === 1) {
      const reason = `${publisher.name}: ${failureMessage(error)}`
      return new Map([[entries[0].id, { reason, deliveries: delivered.get(entries[0].id) ?? 1 }]])
    }
    if (kind === 'unknown') {
      if (entries.length === 1) {
        const entry = entries[0]
        const count = delivered.get(entry.id) ?? 1
        if (count >= ctx.maxDeliveries) {
          const reason = `${publisher.name}: failed ${count} deliveries (maxDeliveries ${ctx.maxDeliveries}): ${failureMessage(error)}`
          return new Map([[entry.id, { reason, deliveries: count }]])
        }
      }
      // This attempt was one delivery of each entry in it; the next attempt is the next delivery.
      for (const entry of entries) {
        const next = (delivered.get(entry.id) ?? 1) + 1
        delivered.set(entry.id, next)
        ctx.countDelivery(entry, next)
      }
    }
    if (entries.length > 1 && kind !== 'transient') {
      // Isolate the bad entry: one by one, so the good ones still land and only the bad one is counted on.
      const refused = new Map<string, Refusal>()
      for (const entry of entries) {
        keep()
        for (const [id, refusal] of await publishTo(publisher, [entry], ctx, delivered, keep)) refused.set(id, refusal)
      }
      return refused
    }
    ctx.onRetry(publisher, error, attempt)
    keep()
    // Never sleep past the keep-alive period, or the entries could look abandoned to other agents.
    await sleep(Math.min(backoffDelay(attempt++, ctx.retryMinMs, ctx.retryMaxMs), ctx.keepAliveMs), ctx.signal)
  }
}
