/**
 * A `then`-able, as returned by async listeners, middleware and `metrics.timed` blocks: anything with a
 * `then` method, not only native promises (Bluebird, a query builder), which is what `await` accepts too.
 *
 * @example
 * if (isThenable(result)) return result.then(onDone, onFail)
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
}
