/**
 * The redis sink's local queue: encoded entries waiting for an `XADD`, bounded in *records* (what users
 * reason about: "keep up to 100,000 requests while Redis is away"). Over the bound the oldest entries go,
 * and the records they held are counted, so the loss is reported instead of silent.
 */
import type { EncodedEntry } from '../wire/stream-encoding.js'

/**
 * Encoded entries waiting for Redis, oldest first, at most `maxRecords` records.
 *
 * @example
 * const backlog = new Backlog(100_000)
 * backlog.push(entry); const next = backlog.shift(); const lost = backlog.takeDropped()
 * backlog.unshift(next) // its XADD failed: first again
 */
export class Backlog {
  #items: EncodedEntry[] = []
  #head = 0
  #records = 0
  /** Records dropped since the last {@link takeDropped}. */
  #dropped = 0
  readonly maxRecords: number

  constructor(maxRecords: number) { this.maxRecords = maxRecords }

  get entries(): number { return this.#items.length - this.#head }
  get records(): number { return this.#records }

  /** Appends, then drops the oldest entries while over the bound. */
  push(entry: EncodedEntry): void {
    this.#items.push(entry)
    this.#records += entry.n
    this.#trim()
  }

  /**
   * Puts back entries whose `XADD` failed, in front and in the order given, so delivery order is kept; then
   * drops the oldest while over the bound (these first: they are the oldest).
   */
  unshift(...entries: EncodedEntry[]): void {
    if (this.#head >= entries.length) {
      this.#head -= entries.length
      for (let i = 0; i < entries.length; i++) this.#items[this.#head + i] = entries[i]
    } else {
      this.#items = [...entries, ...this.#items.slice(this.#head)]
      this.#head = 0
    }
    for (const entry of entries) this.#records += entry.n
    this.#trim()
  }

  shift(): EncodedEntry | undefined {
    if (this.#head >= this.#items.length) return undefined
    const entry = this.#items[this.#head]
    this.#items[this.#head++] = undefined as unknown as EncodedEntry
    this.#records -= entry.n
    // Compact once the dead prefix dominates, so a long outage does not leak the array.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) { this.#items = this.#items.slice(this.#head); this.#head = 0 }
    return entry
  }

  /** Returns and resets the count of records dropped since the last call. */
  takeDropped(): number { const n = this.#dropped; this.#dropped = 0; return n }

  /** Empties the backlog, returning how many records it held. */
  clear(): number {
    const n = this.#records
    this.#items = []
    this.#head = 0
    this.#records = 0
    return n
  }

  #trim(): void {
    while (this.#records > this.maxRecords && this.entries > 0) {
      const old = this.shift() as EncodedEntry
      this.#dropped += old.n
    }
  }
}
