import { AsyncLocalStorage } from 'node:async_hooks'
import type { Collector } from './collector.js'

/**
 * The collector of the request whose code is running. One instance per process: if two copies of the
 * library were loaded (ESM and CJS), `metrics` in one could not see requests of the other, which is why the
 * ESM entry re-exports the CJS build instead of being a second build.
 */
export const requestContext = new AsyncLocalStorage<Collector>()
