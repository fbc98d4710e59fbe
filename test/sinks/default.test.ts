import http from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { metrics, withMetrics } from '../../src/index.js'
import { fetchText, listen } from '../support/http.js'
import { parseLine, udpCollector } from '../support/udp.js'

test('with ROUTEMETER_STATSD set and no sink option, records go to that StatsD', async () => {
  const udp = await udpCollector()
  process.env.ROUTEMETER_STATSD = `127.0.0.1:${udp.port}`
  try {
    const { url, close } = await listen(http.createServer(withMetrics((_req, res) => res.end(), { prefix: 'dflt' })))
    await fetchText(`${url}/things/12`)
    await metrics.flush()
    await udp.waitFor((lines) => lines.some((l) => l.startsWith('dflt.things.id.RequestTime:')))
    await close()
    assert.ok(udp.lines.map(parseLine).some((p) => p.name === 'dflt.things.id.Failure' && p.value === 0))
  } finally {
    delete process.env.ROUTEMETER_STATSD
    udp.close()
  }
})

test.run()
