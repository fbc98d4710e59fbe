// The hand-written floor: the least work any per-request metrics library must do, written inline with no
// library. Per request: two wall-clock reads, two process.cpuUsage() calls, one regex normalisation of the
// path, one array push. The array is drained on an interval so it never grows. Its added CPU over bare
// node:http is the physical limit routemeter is measured against.
//
// With `als: true` (the `floor-als` row) the same work also runs the handler inside
// AsyncLocalStorage.run(record, …): what a library pays on Node 20 to let app code reach "the current
// request" (routemeter's `metrics` facade), since there AsyncLocalStorage enables async_hooks for every
// async resource and promise. A reference row, to tell the price of the context from the price of the rest.
import { AsyncLocalStorage } from 'node:async_hooks'
import { app } from '../app.mjs'

// Collapse integer and UUID segments to :id in one pass.
const ID = /\/(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?=\/|$)/gi

export async function create({ als = false } = {}) {
  const context = als ? new AsyncLocalStorage() : null
  let records = []
  let total = 0
  const drain = setInterval(() => { total += records.length; records = [] }, 1000)
  drain.unref()

  function listener(req, res) {
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    res.on('finish', () => {
      const cpu = process.cpuUsage(c0)
      records.push({
        route: req.url.replace(ID, '/:id'),
        status: res.statusCode,
        ms: performance.now() - t0,
        cpuUs: cpu.user + cpu.system,
      })
    })
    if (context) context.run(c0, app, req, res)
    else app(req, res)
  }

  return {
    listener,
    async verify(served) {
      const seen = total + records.length
      const sample = records[records.length - 1]
      return {
        ok: seen >= served && served > 0,
        detail: `${seen} records for ${served} requests served${sample ? `, last ${JSON.stringify(sample)}` : ''}`,
      }
    },
  }
}
