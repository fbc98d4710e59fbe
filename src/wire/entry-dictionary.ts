const NONE_YET = Symbol('no dimensions asked for yet')

/**
 * The dictionaries one stream entry carries, in every schema version: each string once (`s`), and each
 * distinct dimension set once as pairs of string indices (`d`), so rows and groups hold small integers.
 */
export class EntryDictionary {
  /** Every string of the entry, in first-use order. */
  readonly strings: string[] = []
  /** Distinct dimension sets: `[keyIndex, valueIndex, …]`, keys sorted. */
  readonly dimSets: number[][] = []
  readonly #stringIndex = new Map<string, number>()
  // Dimension objects are usually shared between records (a wrapper's defaults), so identity is tried
  // before the set is keyed by its content.
  readonly #dimByObject = new Map<Readonly<Record<string, string>>, number>()
  readonly #dimByKey = new Map<string, number>()
  // The last object asked about: records of a flush share one, so most calls end at this comparison. Not
  // `undefined` at first: a record without dimensions must reach `Object.keys` and throw.
  #lastDimensions: unknown = NONE_YET
  #lastSet = 0

  /**
   * The index of `s`, adding it on first use.
   *
   * @example
   * const dict = new EntryDictionary(); dict.string('users.id') // 0
   */
  string(s: string): number {
    let i = this.#stringIndex.get(s)
    if (i === undefined) {
      i = this.strings.length
      this.strings.push(s)
      this.#stringIndex.set(s, i)
    }
    return i
  }

  /**
   * The index of a record's dimension set, adding it on first use; non-string values are left out.
   *
   * @example
   * dict.dimensionSet({ service: 'shop', env: 'prod' }) // 0, and 0 again for an equal object
   */
  dimensionSet(dimensions: Readonly<Record<string, string>>): number {
    if (dimensions === this.#lastDimensions) return this.#lastSet
    let d = this.#dimByObject.get(dimensions)
    if (d === undefined) d = this.#addSet(dimensions)
    this.#lastDimensions = dimensions
    this.#lastSet = d
    return d
  }

  #addSet(dimensions: Readonly<Record<string, string>>): number {
    const pairs: number[] = []
    let key = ''
    for (const k of Object.keys(dimensions).sort()) {
      const v = dimensions[k]
      if (typeof v !== 'string') continue
      const ki = this.string(k)
      const vi = this.string(v)
      pairs.push(ki, vi)
      // Keyed by the strings' indices, not their text: a value may hold the NUL a text key would separate by
      // ({ tenant: 'a\0zone\0b' } and { tenant: 'a', zone: 'b' } were one set).
      key += ki + ',' + vi + ','
    }
    let d = this.#dimByKey.get(key)
    if (d === undefined) {
      d = this.dimSets.length
      this.dimSets.push(pairs)
      this.#dimByKey.set(key, d)
    }
    this.#dimByObject.set(dimensions, d)
    return d
  }
}
