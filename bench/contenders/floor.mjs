// The hand-written floor: the least work any per-request metrics library must do, written inline with no
// library. Per request: two wall-clock reads, two process.cpuUsage() calls, one regex normalisation of the
// path, one array push. The array is drained on an interval so it never grows. Its added CPU over bare
// node:http is the physical limit routemeter is measured against.
import { app } from '../app.mjs'

// Collapse integer and UUID segments to :id in one pass.
const ID = /\/(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?=\/|$)/gi

export async function create () {
  let records = []
  let total = 0
  const drain = setInterval(() => { total += records.length; records = [] }, 1000)
  drain.unref()

  function listener (req, res) {
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    res.on('finish', () => {
      const cpu = process.cpuUsage(c0)
      records.push({
        route: req.url.replace(ID, '/:id'),
        status: res.statusCode,
        ms: performance.now() - t0,
        cpuUs: cpu.user + cpu.system
      })
    })
    app(req, res)
  }

  return {
    listener,
    async verify (served) {
      const seen = total + records.length
      const sample = records[records.length - 1]
      return {
        ok: seen >= served && served > 0,
        detail: `${seen} records for ${served} requests served${sample ? `, last ${JSON.stringify(sample)}` : ''}`
      }
    }
  }
}
