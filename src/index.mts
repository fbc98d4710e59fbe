// The ESM entry re-exports the CommonJS build rather than being a second build: one copy of the module
// state (the AsyncLocalStorage behind `metrics`, the drop counters) whether the app uses import or require.
export * from './index.js'
