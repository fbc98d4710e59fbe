// The baseline: the application on bare node:http, nothing measured.
import { app } from '../app.mjs'

export async function create() {
  return { listener: app, async verify(served) { return { ok: served > 0, detail: 'baseline, records nothing' } } }
}
