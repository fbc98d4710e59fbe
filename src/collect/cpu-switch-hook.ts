import { AsyncLocalStorage, AsyncResource, createHook, type HookCallbacks } from 'node:async_hooks'
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
 * const kind: SwitchHookKind = installSwitchHook(requestContext, onStore).kind
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
 * Wraps `AsyncResource.prototype.runInAsyncScope`, behind `AsyncResource.bind` and `AsyncLocalStorage.bind`/
 * `snapshot` (the remedies README gives for callback-style pooling), which look it up on the resource at call
 * or bind time. Two things no hook can see:
 *
 *   return   the bound work is done and the caller's context is back, yet no callback starts: without a switch
 *            here, a pump that runs a bound job and then works on its own billed its own work to the job's
 *            request. Every Node version.
 *   entry    (given the frame symbol: AsyncContextFrame) Node emits `before` and only then enters the resource's
 *            frame, so `getStore()` in the hook still reads the caller's store (Node 24.22 and 22.23). The
 *            wrapper hands the hook the resource's frame for the `before` that follows.
 *
 * Why not ask in the hook which resource is starting: it took `executionAsyncResource()` and an `instanceof`
 * on every non-promise callback, and once that function has been called Node routes every native callback
 * through its JavaScript trampoline: 2,300–2,700 instructions a request on bench/'s tiny route (Node 24.22,
 * `bench/instructions.mjs`, two runs of paired windows), for a case only bound callbacks have. The wrapper
 * costs those nothing; a bound call pays a frame and, on return, a switch.
 *
 * While the `before` hook is off (`hooks.on` false), no `before` follows the entry: the wrapper calls the bound
 * function through `enterBound`, which hands the hook the store it runs with (read inside it, the resource's
 * own, on every Node version). Without it a bound function called from a listener was billed to the listener's
 * request with the hook off and to its own context with it on.
 */
function boundScopes<T>(
  storage: AsyncLocalStorage<T>,
  onStore: (store: T | undefined) => void,
  hooks: { on: boolean },
  kFrame?: symbol,
): {
  before: () => void
  install: () => void
} {
  // The frame of the resource whose `before` comes next; `pending` tells an undefined frame from none.
  let pending = false
  let frame: Map<unknown, T> | undefined
  function enterBound(this: unknown, fn: (...args: unknown[]) => unknown, args: unknown[]): unknown {
    onStore(storage.getStore())
    return fn.apply(this, args)
  }
  return {
    before() {
      if (!pending) return onStore(storage.getStore())
      pending = false
      onStore(frame?.get(storage))
    },
    install() {
      const run = AsyncResource.prototype.runInAsyncScope
      AsyncResource.prototype.runInAsyncScope = function runInAsyncScope(
        this: AsyncResource, fn: (...args: unknown[]) => unknown, thisArg?: unknown, ...args: unknown[]
      ): unknown {
        if (!hooks.on) {
          try {
            return run.call(this, enterBound, thisArg, fn, args)
          } finally {
            onStore(storage.getStore())
          }
        }
        if (kFrame !== undefined) {
          frame = (this as unknown as Record<symbol, Map<unknown, T> | undefined>)[kFrame]
          pending = true
        }
        try {
          return run.call(this, fn, thisArg, ...args)
        } finally {
          pending = false
          onStore(storage.getStore())
        }
      } as typeof run
    },
  }
}

/**
 * The installed hooks: which mechanism, and the switches that turn its `before` hook on and off. Off, no
 * callback of the loop calls `onStore` (timers, I/O, immediates, nextTick; bound functions still do, at entry
 * and return, and promise reactions do on Node 24); on, every one does. Both are idempotent.
 *
 * @example
 * const hook = installSwitchHook(requestContext, onStore)
 * hook.on()   // a request's callbacks are still to come
 * hook.off()  // none are
 */
export interface SwitchHook {
  readonly kind: SwitchHookKind
  /** Whether the `before` hook is on now. */
  readonly isOn: boolean
  on(): void
  off(): void
}

/**
 * Has `onStore(store)` called right before every callback the event loop runs (timers, I/O, immediates,
 * nextTick, promise reactions) while the returned hook is on, with the store of `storage` that callback runs
 * with, and, on or off, when a bound function is entered and when it returns to its caller (boundScopes above,
 * which wraps `AsyncResource.prototype.runInAsyncScope`). Process-wide; installed off.
 *
 * Why on and off: with its `before` hook off, Node dispatches nothing into JavaScript for a native callback, a
 * nextTick or an immediate; the attributed clock needs that only while a request has callbacks still to come
 * (cpu-attributed.ts). An off-on pair costs 615 ns on Node 24.22, 858 on 20.20 (`node bench/hook-cost.mjs`).
 *
 * Why the V8 promise hook stays on (Node 24): V8 gives an `await` the promise its hook is called with only when
 * a hook is installed as the `await` runs. An `await` made with none runs its continuation without calling any
 * hook, even one installed before it resumes: a request that awaited while the hook was off was billed nothing
 * for the work after it (`test/collect/cpu-hooks.test.ts`, the waiting request). A request's first `await`
 * comes in its listener, before `leave` can turn anything on.
 *
 * @example
 * const hook = installSwitchHook(requestContext, (store) => switchTo(store ?? OUTSIDE))
 */
export function installSwitchHook<T>(storage: AsyncLocalStorage<T>, onStore: (store: T | undefined) => void): SwitchHook {
  const onPromise = (): void => onStore(storage.getStore())
  const kFrame = frameSymbol()
  const onFrames = storesOnContextFrames() && kFrame !== undefined
  const hooks = { on: false }
  const scopes = boundScopes(storage, onStore, hooks, onFrames ? kFrame : undefined)
  scopes.install()
  const withoutPromises = onFrames && typeof promiseHooks?.onBefore === 'function' ? hookWithoutPromises(scopes.before) : undefined
  if (withoutPromises !== undefined) promiseHooks.onBefore(onPromise)
  const hook = withoutPromises ?? createHook({ before: scopes.before })
  return {
    kind: withoutPromises !== undefined ? 'v8-promise-hooks' : 'async-hooks',
    get isOn() {
      return hooks.on
    },
    on() {
      if (hooks.on) return
      hooks.on = true
      hook.enable()
    },
    off() {
      if (!hooks.on) return
      hooks.on = false
      hook.disable()
    },
  }
}
