// The baseline: the application on bare node:http, nothing measured.
//
// With `loadLibrary: true` (the `bare-loaded` row) the build of routemeter is imported and left unused: a
// control. Whatever it differs from bare by is no work of the library's: on Node 24's json route it counted
// 14,000 instructions a request fewer than bare, all of them in the collector's visit of V8's object caches
// (bench/instructions.mjs), a difference in what the process loaded, not in what it does per request.
import { app } from '../app.mjs'
import { distEntry } from '../lib/dist.mjs'

export async function create({ loadLibrary = false } = {}) {
  const loaded = loadLibrary ? await import(distEntry()) : null
  const detail = loaded === null
    ? 'baseline, records nothing'
    : `baseline with the library loaded (${Object.keys(loaded).length} exports), unused`
  return { listener: app, async verify(served) { return { ok: served > 0, detail } } }
}
