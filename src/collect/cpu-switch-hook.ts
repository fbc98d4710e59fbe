import { AsyncLocalStorage, AsyncResource, createHook, executionAsyncResource, type HookCallbacks } from 'node:async_hooks'
import { promiseHooks } from 'node:v8'

/*
 * How the attributed clock learns that a callback is about to run: one mechanism per Node version, chosen
 * once when the first attributed clock is built (swap, don't branch).
 *
 *   'v8-promise-hooks'  AsyncLocalStorage on AsyncContextFrame (Node 24's default):
 *                       v8.promiseHooks.onBefore for promise reactions
 *                       + createHook({ before, trackPromises: false }) for timers, I/O, nextTick, immediates
 *   'async-hooks'       anything else (Node 20, 22, Node 24 with --no-async-context-frame):
 *                       createHook({ before }), which also runs Node's own JS promise hooks on every reaction
 *
 * Why: an async_hooks `before` hook makes Node install its promise hooks, which run JavaScript before *and*
 * after every promise reaction and look up the promise's async resource (measured on Node 24: ≈ 93 ns per
 * reaction). A V8 promise hook is one call into our function (≈ 57 ns per reaction with the other hook in
 * place): on bench/'s await20 route that is the difference between the attributed clock growing with the
 * awaits of a request or not.
 *
 * Why only on AsyncContextFrame: there V8 itself restores the reaction's context before any promise hook
 * runs, so `getStore()` inside our hook sees the reaction's store. With the hook-based AsyncLocalStorage the
 * store is set by Node's own promise `before` hook, and whether ours runs before or after it depends on the
 * order the hooks were enabled (Node 22: our hook saw `undefined`; Node 24 with the flag: the right store),
 * an order any library can change later. The hook-based storage gives itself away by the own properties
 * every instance has (`kResourceStore`, `enabled`); the AsyncContextFrame one keeps its state in private
 * fields.
 */

/**
 * The mechanism in use: `'v8-promise-hooks'` (Node 24 with AsyncContextFrame) or `'async-hooks'`.
 *
 * @example
 * const kind: SwitchHookKind = installSwitchHook(requestContext, onStore)
 */
export type SwitchHookKind = 'v8-promise-hooks' | 'async-hooks'

/**
 * True when AsyncLocalStorage runs on AsyncContextFrame (so a V8 promise hook reads the right store).
 *
 * @example
 * storesOnContextFrames() // true on Node 24, false on Node 20 or with --no-async-context-frame
 */
export function storesOnContextFrames(): boolean {
  return !Object.hasOwn(new AsyncLocalStorage(), 'kResourceStore')
}

/**
 * A `before` async hook that leaves promise reactions to someone else. `trackPromises: false` is public since
 * Node 24.14; earlier releases (22.x, 24.0–24.13) read the same switch from the hook's own `kNoPromiseHook`
 * symbol, which AsyncLocalStorage's internal hook uses. Returns undefined when neither exists.
 */
function hookWithoutPromises(before: () => void): ReturnType<typeof createHook> | undefined {
  const hook = createHook({ before, trackPromises: false } as HookCallbacks)
  const noPromiseHook = Object.getOwnPropertySymbols(hook).find((s) => s.description === 'kNoPromiseHook')
  if (noPromiseHook === undefined) return undefined
  ;(hook as unknown as Record<symbol, boolean>)[noPromiseHook] = true
  return hook
}

/**
 * The symbol under which an AsyncResource keeps its AsyncContextFrame (a Map from each AsyncLocalStorage to its
 * store), found once on a probe; undefined when the runtime keeps it elsewhere.
 */
function frameSymbol(): symbol | undefined {
  return Object.getOwnPropertySymbols(new AsyncResource('routemeter-probe')).find((s) => s.description === 'context_frame')
}

/**
 * Calls `onStore(store)` right before every callback the event loop runs (timers, I/O, immediates, nextTick,
 * promise reactions), with the store of `storage` that callback runs with. Process-wide and permanent.
 *
 * One exception to "the context is already in place", on AsyncContextFrame: `AsyncResource.runInAsyncScope`
 * (behind `AsyncResource.bind` and `AsyncLocalStorage.bind`, the remedies README gives for callback-style
 * pooling) emits `before` and only then enters the resource's frame, so `getStore()` in the hook still reads
 * the caller's store (Node 24.22 and 22.23: the caller's, then the bound one inside). For AsyncResources the
 * hook reads the store from the resource's own frame instead: one `instanceof` per non-promise callback.
 *
 * @example
 * const kind = installSwitchHook(requestContext, (store) => switchTo(store ?? OUTSIDE))
 */
export function installSwitchHook<T>(storage: AsyncLocalStorage<T>, onStore: (store: T | undefined) => void): SwitchHookKind {
  const onPromise = (): void => onStore(storage.getStore())
  const kFrame = frameSymbol()
  if (storesOnContextFrames() && kFrame !== undefined && typeof promiseHooks?.onBefore === 'function') {
    const hook = hookWithoutPromises(() => {
      const resource: unknown = executionAsyncResource()
      if (resource instanceof AsyncResource) {
        onStore((resource as unknown as Record<symbol, Map<unknown, T> | undefined>)[kFrame]?.get(storage))
      } else {
        onStore(storage.getStore())
      }
    })
    if (hook !== undefined) {
      hook.enable()
      promiseHooks.onBefore(onPromise)
      return 'v8-promise-hooks'
    }
  }
  createHook({ before: onPromise }).enable()
  return 'async-hooks'
}
