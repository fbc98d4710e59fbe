// Peer: hot-shots on bare node:http, sending one buffered timing per request, which is what a team
// hand-rolls when it "just adds StatsD". Same normalisation as the floor, so the difference is hot-shots'
// formatting and buffering.
import StatsD from 'hot-shots'
import { app } from '../app.mjs'

const ID = /\/(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?=\/|$)/gi

export async function create({ statsdPort }) {
  const errors = []
  const client = new StatsD({
    host: '127.0.0.1',
    port: statsdPort,
    maxBufferSize: 1400, // buffered: one UDP packet per ~1400 bytes, flushed at least every second
    bufferFlushInterval: 1000,
    errorHandler: (err) => errors.push(err),
  })

  function listener(req, res) {
    const t0 = performance.now()
    res.on('finish', () => client.timing(req.url.replace(ID, '/:id'), performance.now() - t0))
    app(req, res)
  }

  return {
    listener,
    async verify(served) {
      await new Promise((resolve) => client.flush(resolve))
      return {
        ok: errors.length === 0 && served > 0,
        detail: `flushed; ${errors.length} client errors${errors[0] ? `: ${errors[0].message}` : ''}`,
      }
    },
    flush: () => new Promise((resolve) => client.flush(resolve)),
  }
}
