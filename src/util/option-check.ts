/**
 * The one way options are checked, for every factory the package exports (`withMetrics`, the sinks, the
 * agent and its publishers): bad configuration fails at construction with an {@link OptionError} that names
 * the option, says what it allows and shows what it got (never a secret: a URL is checked elsewhere, without
 * echoing it).
 */

/**
 * A bad option. A `TypeError`, so `catch (e) { if (e instanceof TypeError) … }` keeps working, with the
 * option's name as a property: the CLI maps it to its flag without parsing the message.
 *
 * @example
 * try { redisSink({ maxLen: -1 }) } catch (error) { (error as OptionError).option } // 'maxLen'
 */
export class OptionError extends TypeError {
  /** The option's name as the factory spells it (`maxLen`, `flushInterval`). */
  readonly option: string
  /** The factory it was given to (`redisSink`), or '' for the options every wrapper shares. */
  readonly owner: string
  /** What is wrong, without the `routemeter: <owner> option "<name>"` head (`must be …, got …`). */
  readonly reason: string

  constructor(owner: string, option: string, reason: string) {
    super(`routemeter: ${owner === '' ? '' : `${owner} `}option "${option}" ${reason}`)
    this.name = 'TypeError'
    this.option = option
    this.owner = owner
    this.reason = reason
  }
}

/** `got` as a message shows it: JSON where it can, `a function` for functions. */
export function shown(got: unknown): string {
  if (typeof got === 'function') return 'a function'
  if (typeof got === 'bigint') return `${got}n`
  try {
    return JSON.stringify(got) ?? String(got)
  } catch {
    return String(got)
  }
}

/**
 * The checks of one factory's options, each returning the value (or its default: `undefined` and `null` both
 * mean "not given", as `??` read them before) or throwing an {@link OptionError}.
 */
export interface OptionChecks {
  /** Throws: `option` must be `allowed`, and got `got`. */
  fail(option: string, allowed: string, got: unknown): never
  /** An integer within [min, max]; a string of digits (from the environment) is read as one. */
  integer(option: string, value: unknown, fallback: number, min: number, max: number): number
  /** A finite number within [min, max]; `min` itself is excluded with `{ above: true }`. */
  number(option: string, value: unknown, fallback: number, min: number, max: number, bound?: { above?: boolean }): number
  /** A string, non-empty unless `{ empty: true }`. */
  string(option: string, value: unknown, fallback: string, allow?: { empty?: boolean }): string
  /** A boolean. */
  boolean(option: string, value: unknown, fallback: boolean): boolean
  /** One of `choices` (compared with ===). */
  oneOf<T>(option: string, value: unknown, fallback: T, choices: readonly T[]): T
  /** A function, or undefined when not given. */
  func<F extends (...args: never[]) => unknown>(option: string, value: unknown, allowed?: string): F | undefined
}

/**
 * The checks for the options of `owner`.
 *
 * @example
 * const check = optionChecks('redisSink')
 * const maxLen = check.integer('maxLen', options.maxLen, 10_000, 0, Number.MAX_SAFE_INTEGER)
 */
export function optionChecks(owner: string): OptionChecks {
  const fail = (option: string, allowed: string, got: unknown): never => {
    throw new OptionError(owner, option, `must be ${allowed}, got ${shown(got)}`)
  }
  return {
    fail,
    integer(option, value, fallback, min, max) {
      if (value === undefined || value === null) return fallback
      if (typeof value === 'string' && /^\d+$/.test(value.trim())) value = Number(value)
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        fail(option, max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`, value)
      }
      return value as number
    },
    number(option, value, fallback, min, max, bound = {}) {
      if (value === undefined || value === null) return fallback
      if (typeof value !== 'number' || Number.isNaN(value) || (bound.above === true ? value <= min : value < min) || value > max) {
        const lower = bound.above === true ? `above ${min}` : `at least ${min}`
        fail(option, max === Infinity ? `a number ${lower}` : `a number ${lower} and at most ${max}`, value)
      }
      return value as number
    },
    string(option, value, fallback, allow = {}) {
      if (value === undefined || value === null) return fallback
      if (typeof value !== 'string' || (value === '' && allow.empty !== true)) {
        fail(option, allow.empty === true ? 'a string' : 'a non-empty string', value)
      }
      return value as string
    },
    boolean(option, value, fallback) {
      if (value === undefined || value === null) return fallback
      if (typeof value !== 'boolean') fail(option, 'true or false', value)
      return value as boolean
    },
    oneOf(option, value, fallback, choices) {
      if (value === undefined || value === null) return fallback
      if (!choices.includes(value as never)) fail(option, `one of ${choices.map(shown).join(', ')}`, value)
      return value as typeof fallback
    },
    func<F>(option: string, value: unknown, allowed = 'a function') {
      if (value === undefined || value === null) return undefined
      if (typeof value !== 'function') fail(option, allowed, value)
      return value as F
    },
  }
}

/**
 * Throws unless `options` is an object (or undefined, read as `{}`): the first check of every factory.
 *
 * @example
 * const o = optionsObject('statsdSink', options)
 */
export function optionsObject<T extends object>(owner: string, options: T | undefined | null): T {
  if (options === undefined || options === null) return {} as T
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new OptionError(owner, 'options', `must be an object, got ${shown(options)}`)
  }
  return options
}
