import https from 'node:https'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { memorySink, withMetrics } from '../../src/index.js'
import { servicesAvailable } from '../support/services.js'
import { recorded } from '../support/records.js'

/** A throwaway self-signed certificate made with openssl, or undefined when openssl is missing. */
function selfSigned(): { key: Buffer, cert: Buffer } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'routemeter-tls-'))
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }
  } catch {
    return undefined
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const OPENSSL = { binary: 'openssl', debian: 'openssl' }
const tls = servicesAvailable('test/adapters/https.test.ts (node:https)', [OPENSSL]) ? selfSigned() : undefined
if (tls !== undefined) {
  test('works on node:https', async () => {
    const sink = memorySink()
    const server = https.createServer(tls, withMetrics((_req, res) => res.end('secure'), { sink }))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as AddressInfo
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/accounts/991/statements', rejectUnauthorized: false }, (res) => {
          let text = ''
          res.on('data', (d) => (text += d))
          res.on('end', () => resolve(text))
        })
        .on('error', reject)
    })
    const records = await recorded(sink, 1)
    server.closeAllConnections()
    server.close()
    assert.is(body, 'secure')
    assert.equal(records.map((r) => [r.route, r.status]), [['accounts.id.statements', 200]])
  })
}

test.run()
