/**
 * What a metric name and value may be, and the one normalisation of names that the door (`metrics.*`) and
 * every encoder (StatsD lines, the agent's StatsD and InfluxDB output) share:
 *
 * ```
 * metrics.count(name, n) ─► nameVerdict(name): refuse control characters, blank names, and names whose
 *                           canonicalName() is a standard metric ('.Failure', 'RequestTime.')
 *                           inRange(n): |n| ≤ MAX_METRIC_VALUE
 * encoders             ─► canonicalName(name) for the StatsD name; forgesStandard(name, kind) drops a
 *                           record's name that would land on a standard metric (records that never met the door)
 * ```
 *
 * Names repeat (the same few per route), so both verdicts are cached: the request path pays one Map lookup
 * per call, as the exact-name Set lookup it replaces did; the regexes run once per distinct name.
 */

/** Standard timers: written by the collector on every request. */
const STANDARD_TIMERS: ReadonlySet<string> = new Set(['RequestTime', 'CpuTime'])
/** Standard counters: 0/1 on every request. */
const STANDARD_COUNTERS: ReadonlySet<string> = new Set(['Failure', 'ClientError', 'Aborted'])

/**
 * Metric names the collector writes itself; the app may not record into them, nor into any name that
 * normalises to one of them.
 *
 * @example
 * STANDARD_METRICS.has('Failure') // true
 */
export const STANDARD_METRICS: ReadonlySet<string> = new Set([...STANDARD_TIMERS, ...STANDARD_COUNTERS])

/**
 * The largest magnitude a counted or timed value may have. Below 2^53 (≈ 9.007e15), so integer counts stay
 * exact; a sum of a million such values (1e21) is still far from overflowing to `Infinity`, in the app's
 * per-request and per-batch sums and in the agent's per-entry sums; and 1e15 ms is ≈ 31,700 years, 1e15
 * bytes a petabyte, so no real measurement is refused.
 *
 * @example
 * metrics.count('bytes', 2e15) // dropped, counted as a `value` drop
 */
export const MAX_METRIC_VALUE = 1e15

/**
 * True for a number with |value| ≤ {@link MAX_METRIC_VALUE}; false for NaN, ±Infinity and non-numbers.
 *
 * @example
 * inRange(1e306) // false
 */
export function inRange(value: unknown): value is number {
  // Two comparisons: NaN fails both, so no separate isFinite call.
  return typeof value === 'number' && value <= MAX_METRIC_VALUE && value >= -MAX_METRIC_VALUE
}

const UNSAFE = /[^A-Za-z0-9_.-]/g
const CACHE_SIZE = 4096
const canonical = new Map<string, string>()

/**
 * The canonical form of a name, which is also its StatsD form: every character but `[A-Za-z0-9_.-]` becomes
 * `_`, runs of dots collapse, leading and trailing dots go (Graphite files `a..b` and `a.b.` where it files
 * `a.b`), an empty result is `_`. Lines built from it are ASCII, so their length is their size in bytes.
 *
 * @example
 * canonicalName('.Failure')    // 'Failure'
 * canonicalName('db query|x') // 'db_query_x'
 */
export function canonicalName(name: string): string {
  let safe = canonical.get(name)
  if (safe === undefined) {
    safe = name.replace(UNSAFE, '_').replace(/\.{2,}/g, '.').replace(/^\.|\.$/g, '') || '_'
    if (canonical.size >= CACHE_SIZE) canonical.clear()
    canonical.set(name, safe)
  }
  return safe
}

/**
 * True when a record's metric `name` of kind `kind` would be written as a standard metric without being it:
 * its canonical form is a standard name, and it is not that exact name with the standard kind (a timer named
 * `Failure` would push the real counter aside in InfluxDB). Encoders drop such names, counted as `name`.
 *
 * @example
 * forgesStandard('Failure', 'counter')  // false: the real one
 * forgesStandard('.Failure', 'counter') // true
 * forgesStandard('Failure', 'timer')    // true
 */
export function forgesStandard(name: string, kind: 'counter' | 'timer'): boolean {
  const safe = canonicalName(name)
  if (!STANDARD_METRICS.has(safe)) return false
  return safe !== name || !(kind === 'timer' ? STANDARD_TIMERS : STANDARD_COUNTERS).has(name)
}

/** {@link nameVerdict}: usable. */
export const NAME_OK = 0
/** {@link nameVerdict}: a control character, a lone surrogate, or nothing but white space. */
export const NAME_UNPRINTABLE = 1
/** {@link nameVerdict}: a standard metric's name, exactly or after normalisation. */
export const NAME_RESERVED = 2

// C0 controls and DEL break lines in every protocol (or, as a leading NUL or tab in InfluxDB, vanish); a
// lone surrogate becomes U+FFFD on the wire, so two different names would arrive as one.
const UNPRINTABLE = /[\0-\x1f\x7f]|[\uD800-\uDFFF]|^\s*$/u
const verdicts = new Map<string, number>()

/**
 * Why an app-chosen name (metric or dimension) is refused at the door, or {@link NAME_OK}. Cached per name.
 * {@link NAME_RESERVED} matters only for metric names: a dimension may be called `Failure`.
 *
 * @example
 * nameVerdict('db.query')  // NAME_OK
 * nameVerdict('k\n')       // NAME_UNPRINTABLE
 * nameVerdict('.Failure')  // NAME_RESERVED
 */
export function nameVerdict(name: string): number {
  let verdict = verdicts.get(name)
  if (verdict === undefined) {
    verdict = UNPRINTABLE.test(name) ? NAME_UNPRINTABLE : STANDARD_METRICS.has(canonicalName(name)) ? NAME_RESERVED : NAME_OK
    if (verdicts.size >= CACHE_SIZE) verdicts.clear()
    verdicts.set(name, verdict)
  }
  return verdict
}

/**
 * Assigns `obj[key] = value` as an own data property even when `key` is `__proto__`, which plain assignment
 * (and `Object.assign`) would take as a prototype change and lose. Records stay plain objects (users
 * deep-compare them), so this, not a null prototype, is how an app name equal to `__proto__` survives.
 *
 * @example
 * setOwn(counters, '__proto__', 2)
 */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
  else obj[key] = value
}
