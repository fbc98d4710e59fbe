import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runNode } from '../support/run-node.js'

// The naming benchmark must keep running, and the learning namer must keep naming: `node bench/names/run.mjs
// --mode namer --requests 5000` exits 0, its last line is the JSON of every number, and on each corpus the share
// of requests named as their template stays above a floor. Needs a build: dist/ (the `pretest` script builds it),
// or the one ROUTEMETER_DIST names. It asserts no times.

// Measured at 5,000 requests with the default seed (bench/names/README.md): gitlab 96.5%, kubernetes 88.4%,
// stripe 99.3%; the release before the learned templates got 55-65% on the first two. The margins absorb
// small trade-offs; a lost rule or a budget regression falls well below them.
const FLOORS: Record<string, number> = { gitlab: 0.93, kubernetes: 0.84, stripe: 0.96 }

interface Result { requests: number, agree: number, noiseNames: number, routesHit: number }
interface Corpus { routes: number, namer: Result, normalizePath: Result }

test('the naming benchmark names each corpus above its floor, and scanners mint no names', async () => {
  const args = ['bench/names/run.mjs', '--mode', 'namer', '--requests', '5000']
  const { code, stdout, stderr } = await runNode(args, { coverage: false, timeoutMs: 30_000 })
  assert.is(code, 0, stderr)
  const lines = stdout.trim().split('\n')
  const json = JSON.parse(lines[lines.length - 1]!) as { requests: number, corpora: Record<string, Corpus> }
  assert.is(json.requests, 5000)
  assert.equal(Object.keys(json.corpora).sort(), Object.keys(FLOORS).sort())
  for (const [corpus, floor] of Object.entries(FLOORS)) {
    const { routes, namer, normalizePath } = json.corpora[corpus]!
    assert.ok(namer.agree >= floor, `${corpus}: namer agreement ${(100 * namer.agree).toFixed(1)}% is below the ${100 * floor}% floor`)
    assert.is(namer.noiseNames, 0, `${corpus}: scanner noise got names other than unmatched`)
    // Both namers saw the same seeded traffic: every request, over the same routes of the corpus.
    assert.equal([namer.requests, normalizePath.requests], [5000, 5000])
    assert.is(namer.routesHit, normalizePath.routesHit)
    assert.ok(namer.routesHit > 0 && namer.routesHit <= routes, `${corpus}: ${namer.routesHit} of ${routes} routes hit`)
  }
})

test.run()
