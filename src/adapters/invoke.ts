/** Calls `fn` with `this` and two arguments; passed to `AsyncLocalStorage.run` so no closure is made per call. */
export function invoke<A, B, R>(fn: (this: unknown, a: A, b: B) => R, self: unknown, a: A, b: B): R {
  return fn.call(self, a, b)
}

/** A `then`-able, as returned by async listeners and middleware. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function'
}
