/**
 * `startAgent`: moves entries from the Redis stream to the publishers, through a consumer group, so any
 * number of agents on any number of hosts share one stream and Redis does the distribution.
 *
 * ```
 * start: XGROUP CREATE … MKSTREAM ─► own pending entries (a restart after a crash): XCLAIM, handle
 * loop:  every claimInterval: XAUTOCLAIM entries idle > claimIdle in dead agents' lists, handle
 *        XREADGROUP … COUNT readCount BLOCK blockMs STREAMS <stream> >, handle
 * handle: decode + aggregate ── garbage / unknown version / delivered > maxDeliveries ──► XADD <stream>:dead, XACK
 *         deliver to every publisher (retries inside) ── refused, or failed maxDeliveries times ──► XADD <stream>:dead, XACK
 *         accepted by all ──► XACK
 * stop:  stop reading, finish and ack in-flight work; at drainTimeout abort (entries stay pending), close: resolves
 *        within drainTimeout + CLOSE_GRACE_MS (1 s), one deadline for all the closing, never rejects.
 * ```
 *
 * Two connections: XREADGROUP BLOCK occupies its connection, so acks, claims and XINFO go on a second one.
 */
import type { RedisClientType } from 'redis'
import { decodeEntry } from '../wire/stream-encoding.js'
import type { AgentEntry } from './publisher.js'
import { agentEntry } from './aggregate.js'
import { deliver, DeliveryAborted } from './deliver.js'
import { backoffDelay, sleep } from '../util/backoff.js'
import { agentStats, type AgentStats, type MutableAgentStats } from './agent-stats.js'
import { agentLog } from './agent-log.js'
import { failureKind, failureMessage } from './failure.js'
import { redactor } from '../util/redact.js'
import { createWarner } from '../util/warn.js'
import { resolveAgentOptions, type AgentOptions } from './agent-options.js'

/**
 * After the drain, the one budget (ms) for all the closing: the read loop's exit once its work is aborted, the
 * publishers' close() and both Redis connections' close(). Shared through one deadline, not per step: per step
 * (2 s, 5 s, 1 s and 1 s) stop() could take drainTimeout + 9 s, past a container's grace period (7.3 s measured with
 * drainTimeout 300 ms, a publish and a close that never settle; now 1.3 s). Closing took 0–1 ms in 24 of the 25 stops
 * of test/agent/agent.test.ts (Redis on loopback); what is not done by the deadline is left behind: its entries stay
 * pending, the connections are destroyed.
 */
const CLOSE_GRACE_MS = 1000

export type { AgentStats } from './agent-stats.js'
export type { AgentOptions } from './agent-options.js'

/** A running agent. */
export interface Agent {
  /** Resolves once connected and the consumer group exists (rejects only if the agent is stopped first). */
  readonly ready: Promise<void>
  /**
   * Stops reading, finishes and acks in-flight work (bounded by `drainTimeoutMs`: what is left then stays pending),
   * closes publishers and connections. Resolves within `drainTimeoutMs` + 1 s whatever hangs (a close that takes
   * longer is left behind, the connections destroyed), and never rejects. Idempotent.
   */
  stop(): Promise<void>
  /** Counters since start, plus the group's lag and pending count (refreshed every second). */
  stats(): AgentStats
}

interface StreamMessage { id: string, message: Record<string, string> }

/**
 * Starts an agent. Connects in the background; problems are reported through `onError`, never thrown.
 *
 * @example
 * import { startAgent, influxPublisher } from 'routemeter'
 * const agent = startAgent({
 *   redis: 'redis://127.0.0.1:6379', stream: 'routemeter', group: 'routemeter', consumer: 'agent-1',
 *   publishers: [influxPublisher({ url: 'http://127.0.0.1:8086', db: 'metrics' })],
 * })
 * process.on('SIGTERM', () => agent.stop().then(() => process.exit(0)))
 */
export function startAgent(options: AgentOptions): Agent {
  const {
    redis: url, stream, group, consumer, deadLetterStream: deadStream, publishers, readCount, blockMs, claimIdleMs, claimIntervalMs,
    maxDeliveries, retryMinMs, retryMaxMs, drainTimeoutMs, onError,
  } = resolveAgentOptions(options)

  const stats: MutableAgentStats = agentStats()
  // Every secret the agent sends: the Redis password (every spelling, whatever the URL's form) and whatever each
  // publisher declares. Applied to everything logged and to dead-letter reasons.
  const redact = redactor([], url.redact, ...publishers.map((p) => p.redact?.bind(p)))
  const log = agentLog(onError, redact)

  let stopping = false
  const stopSignal = new AbortController() // cuts idle sleeps at once on stop()
  const workSignal = new AbortController() // cuts in-flight retries at the drain deadline

  let client: RedisClientType | undefined
  let reader: RedisClientType | undefined
  let infoTimer: NodeJS.Timeout | undefined
  let everReady = false
  let readyResolve: () => void = () => {}
  let readyReject: (error: Error) => void = () => {}
  const ready = new Promise<void>((resolve, reject) => { readyResolve = resolve; readyReject = reject })
  ready.catch(() => {})

  // Entries every publisher took (or dead-lettered) whose XACK, or a dead-letter XADD of the same read, failed with its
  // connection (Redis stopped mid-ack): they stay pending, and recoverOwn would publish them again after the reconnect
  // (a StatsD counting them twice, stats() too). This agent knows they are done, so only their XACK is sent again. At
  // most one read's worth: a failed ack ends the turn. The XACK may have been applied with only its reply lost: sent
  // again, it acks nothing.
  const unacked = new Set<string>()
  const ack = async (ids: string[]): Promise<void> => {
    if (ids.length === 0) return
    for (const id of ids) unacked.add(id)
    await (client as RedisClientType).xAck(stream, group, ids)
    for (const id of ids) unacked.delete(id)
  }

  // Dead letters under the package's one rate limit, per reason (its first 40 characters: a count in the tail is
  // no new kind): the first at once, then one a minute with a count of the rest. `log.report` adds the agent's prefix.
  const deadWarner = createWarner(Date.now, (text) => { log.report(text.replace(/^routemeter: /, '')) })
  const deadLetter = async (id: string, fields: Record<string, string>, reason: string, deliveries: number): Promise<void> => {
    const c = client as RedisClientType
    // Redacted before the cut: a secret cut in half is no longer recognisable.
    const safeReason = redact(reason).slice(0, 1000)
    await c.xAdd(deadStream, '*', { ...fields, _id: id, _reason: safeReason, _deliveries: String(deliveries), _group: group },
      { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: 10_000 } })
    stats.deadLettered++
    deadWarner.warn(`dead:${reason.slice(0, 40)}`, () => `entry ${id} moved to ${deadStream}: ${reason}`)
  }

  /** Decode, deliver, dead-letter, ack. `deliveries` (when known) drives the poison-pill rule. */
  const handle = async (messages: readonly StreamMessage[], deliveries?: ReadonlyMap<string, number>): Promise<void> => {
    const good: AgentEntry[] = []
    const fieldsOf = new Map<string, Record<string, string>>()
    const doneIds: string[] = []
    // Done (published everywhere, or dead-lettered) is final whatever fails later in this read: should a dead-letter
    // XADD fail with its connection, recovery acks these rather than handling them again (an entry published twice,
    // a dead letter written twice, before).
    const done = (id: string): void => {
      doneIds.push(id)
      unacked.add(id)
    }
    for (const m of messages) {
      const count = deliveries?.get(m.id) ?? 1
      if (count > maxDeliveries) {
        await deadLetter(m.id, m.message, `delivered ${count} times without being acked (maxDeliveries ${maxDeliveries})`, count)
        done(m.id)
        continue
      }
      try {
        const entry = agentEntry(m.id, decodeEntry(m.message.v, m.message.p), stream)
        // Aggregated here, not lazily inside a publisher: the same data fails the same way every time, so
        // a throw is the entry's, and it is dead-lettered at once like a decode error.
        entry.series()
        good.push(entry)
        fieldsOf.set(m.id, m.message)
      } catch (error) {
        // StreamDecodeError for anything unreadable; an unknown version is dead-lettered at once as well.
        await deadLetter(m.id, m.message, failureMessage(error), count)
        done(m.id)
      }
    }
    const refused = await deliver(good, {
      publishers, retryMinMs, retryMaxMs, maxDeliveries, signal: workSignal.signal, keepAliveMs: Math.max(50, Math.floor(claimIdleMs / 3)),
      deliveries: (id) => deliveries?.get(id) ?? 1,
      onRetry: (publisher, error) => {
        stats.retries++
        const counted = failureKind(error) === 'unknown' ? ', each failure counting toward maxDeliveries' : ''
        log.publisherFailed(publisher.name, `${failureMessage(error)}${counted}`)
      },
      onSuccess: (publisher) => { log.publisherSucceeded(publisher.name) },
      keepAlive: (entries) => {
        // JUSTID claims reset the idle time without counting a delivery, so other agents leave these alone.
        if (client?.isReady === true) void client.xClaimJustId(stream, group, consumer, 0, entries.map((e) => e.id)).catch(() => {})
      },
      countDelivery: (entry, delivery) => {
        // RETRYCOUNT writes the count into the pending entry: an agent restarted mid-retry resumes from it.
        if (client?.isReady !== true) return
        void client.xClaimJustId(stream, group, consumer, 0, entry.id, { RETRYCOUNT: delivery }).catch(() => {})
      },
    })
    for (const entry of good) {
      if (refused.has(entry.id)) continue
      stats.entries++
      stats.records += entry.batch.count
      stats.requests += entry.batch.requests
      done(entry.id)
    }
    for (const entry of good) {
      const refusal = refused.get(entry.id)
      if (refusal === undefined) continue
      await deadLetter(entry.id, fieldsOf.get(entry.id) as Record<string, string>, refusal.reason, refusal.deliveries)
      done(entry.id)
    }
    await ack(doneIds)
  }

  /** After a restart: this consumer's own pending entries, claimed (delivery count +1) and handled. */
  const recoverOwn = async (): Promise<void> => {
    const c = client as RedisClientType
    let start = '-'
    while (!stopping) {
      const pending = await c.xPendingRange(stream, group, start, '+', readCount, { consumer })
      if (pending.length === 0) return
      start = `(${pending[pending.length - 1].id}`
      const counts = new Map(pending.map((p) => [p.id, p.deliveriesCounter + 1]))
      const claimed = (await c.xClaim(stream, group, consumer, 0, pending.map((p) => p.id))).filter(isMessage)
      stats.trimmed += pending.length - claimed.length
      await handle(claimed, counts)
    }
  }

  /** XAUTOCLAIM: entries idle longer than claimIdleMs in any consumer's list (a dead agent's). */
  const reclaimIdle = async (): Promise<void> => {
    const c = client as RedisClientType
    let cursor = '0-0'
    do {
      const res = await c.xAutoClaim(stream, group, consumer, claimIdleMs, cursor, { COUNT: readCount })
      stats.trimmed += res.deletedMessages.length
      const claimed = res.messages.filter(isMessage)
      if (claimed.length > 0) {
        const last = claimed[claimed.length - 1].id
        const pending = await c.xPendingRange(stream, group, claimed[0].id, last, claimed.length + readCount, { consumer })
        stats.reclaimed += claimed.length
        await handle(claimed, new Map(pending.map((p) => [p.id, p.deliveriesCounter])))
      }
      cursor = String(res.nextId)
    } while (cursor !== '0-0' && !stopping)
  }

  const refreshInfo = async (): Promise<void> => {
    // Not while disconnected: queued XINFOs would pile up in node-redis' offline queue during an outage.
    if (client?.isReady !== true) return
    try {
      const groups = await client.xInfoGroups(stream)
      let lag: number | null = null
      for (const g of groups as unknown as Array<Record<string, unknown>>) {
        if (g.name !== group) continue
        stats.pending = Number(g.pending) || 0
        // nil after an XDEL or a trim past entries the group had not read, absent before Redis 7.0: unknown, not 0
        // (which would read as "caught up", the opposite of what the operator should conclude).
        if (typeof g.lag === 'number') lag = g.lag
      }
      stats.lag = lag
    } catch { stats.lag = null /* no stream (vanished), or the call failed: nothing to go on */ }
  }

  const loop = async (): Promise<void> => {
    client = await url.create({ disableOfflineQueue: false, reconnect: true, connectTimeoutMs: 5000 })
    reader = client.duplicate()
    for (const c of [client, reader]) {
      c.on('error', (error: Error) => {
        stats.connected = false
        log.warnOnce('redis', `Redis at ${url.safe} unavailable (${error.message}); retrying`)
      })
      c.on('ready', () => {
        stats.connected = client?.isReady === true && reader?.isReady === true
        if (stats.connected) log.clear('redis')
      })
    }
    await Promise.all([client.connect(), reader.connect()])
    stats.connected = true
    infoTimer = setInterval(() => { void refreshInfo() }, 1000)
    infoTimer.unref()

    let groupReady = false
    let nextClaimAt = Date.now() + claimIntervalMs
    let attempt = 0
    while (!stopping) {
      try {
        if (!groupReady) {
          try { await client.xGroupCreate(stream, group, '0', { MKSTREAM: true }) } catch (error) {
            if (!String((error as Error).message).startsWith('BUSYGROUP')) throw error
          }
          groupReady = true
          everReady = true
          readyResolve()
          if (unacked.size > 0) await ack([...unacked])
          await recoverOwn()
          void refreshInfo()
        }
        if (Date.now() >= nextClaimAt) {
          nextClaimAt = Date.now() + claimIntervalMs
          await reclaimIdle()
        }
        const reply = await reader.xReadGroup(group, consumer, { key: stream, id: '>' }, { COUNT: readCount, BLOCK: blockMs })
        const messages = (reply as unknown as Array<{ messages: StreamMessage[] }> | null)?.[0]?.messages ?? []
        // Entries read are ours now: handle them even if stop() was called meanwhile (that is the drain).
        if (messages.length > 0) await handle(messages)
        attempt = 0
        log.clear('loop')
      } catch (error) {
        if (error instanceof DeliveryAborted) return
        const message = failureMessage(error)
        // Whatever failed (a lost connection mid-ack, a vanished group), redo the start-up steps next time:
        // the group is recreated if gone and our own unacked entries are handled at once, not after claimIdle.
        groupReady = false
        // A deleted group (NOGROUP) is recreated on the next turn and needs no warning; but it backs off like any
        // failure: without it, a group that keeps vanishing turned the loop into a busy spin (XGROUP CREATE, XPENDING
        // and XREADGROUP 0.5–1.1 ms apart against a local server, ≈ 1,000 rounds a second).
        if (!message.includes('NOGROUP')) log.warnOnce('loop', `reading ${stream} failed (${message}); retrying`)
        await sleep(backoffDelay(attempt++, 100, 5000), stopSignal.signal)
      }
    }
  }

  const running = loop().catch((error: unknown) => {
    if (!stopping) log.warnOnce('fatal', `agent stopped: ${failureMessage(error)}`)
  })

  let stopped: Promise<void> | undefined
  return {
    ready,
    stats: () => ({ ...stats }),
    stop() {
      stopped ??= (async () => {
        stopping = true
        stopSignal.abort()
        readyReject(new Error('agent stopped before it was ready'))
        // Never connected (Redis down since start): nothing is in flight, so do not wait out the drain deadline.
        if (!everReady) { for (const c of [reader, client]) { try { c?.destroy() } catch { /* not open */ } } }
        const drained = await Promise.race([running.then(() => true), sleep(drainTimeoutMs).then(() => false)])
        const closeBy = Date.now() + CLOSE_GRACE_MS
        const left = (): Promise<void> => sleep(Math.max(0, closeBy - Date.now()))
        if (!drained) {
          workSignal.abort()
          try { reader?.destroy() } catch { /* not open */ }
          // The loop leaves at once, unless a publish ignores the abort and never settles: not waited past the deadline.
          await Promise.race([running, left()])
        }
        if (infoTimer !== undefined) clearInterval(infoTimer)
        // Asked even with no time left. Async, so a close() that throws is a rejection allSettled swallows: stop() never rejects.
        await Promise.race([Promise.allSettled(publishers.map(async (p) => { await p.close() })), left()])
        const clients = [reader, client].filter((c) => c !== undefined)
        await Promise.race([Promise.allSettled(clients.map(async (c) => { await c.close() })), left()])
        for (const c of clients) { try { c.destroy() } catch { /* closed */ } }
      })()
      return stopped
    },
  }
}

function isMessage(m: unknown): m is StreamMessage {
  return m !== null && typeof m === 'object' && typeof (m as StreamMessage).id === 'string'
}
