import { test } from 'uvu'
import * as assert from 'uvu/assert'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

// The bare server's Redis controls (bare-redis, bare-redis500, bare-redis500-raw) need the bench's redis-server.
// Given no address, node-redis would connect to 127.0.0.1:6379, whatever Redis the machine runs, and the row would
// measure traffic to it without saying so: such a row must refuse to start.

const bare = pathToFileURL(path.resolve('bench/contenders/bare.mjs')).href

test('a Redis control without the bench\'s redisUrl refuses to start', async () => {
  const { create } = await import(bare) as { create: (options: object) => Promise<unknown> }
  for (const options of [{ redisEvery: 1000 }, { redisPerRequests: 500 }, { redisPerRequests: 500, redisRaw: true }]) {
    try {
      await create(options)
      assert.unreachable(`started with ${JSON.stringify(options)}`)
    } catch (error) {
      assert.instance(error, TypeError, JSON.stringify(options))
      assert.match((error as Error).message, /redisUrl/)
    }
  }
})

test.run()
