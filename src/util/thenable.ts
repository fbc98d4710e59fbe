/**
 * A `then`-able, as returned by async listeners, middleware and `metrics.timed` blocks: anything with a
 * `then` method, not only native promises (Bluebird, a query builder), which is what `await` accepts too.
 *
 * @example
 * if (isThenable(result)) return result.then(onDone, onFail)
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false
  // The value is the app's: reading `then` can throw (a Proxy, a getter), and a throw here would reach the app
  // from the wrapper, where Node itself never looks at what a listener returns. Such a value is not a thenable.
  try {
    return typeof (value as PromiseLike<unknown>).then === 'function'
  } catch {
    return false
  }
}
