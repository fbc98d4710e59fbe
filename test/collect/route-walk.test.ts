import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { pathTokens } from '../../src/collect/normalize-path.js'
import { createRouteModel, type RouteModel } from '../../src/collect/route-model.js'

function xorshift(seed: number): () => number {
  let x = seed
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 4294967296
  }
}

/**
 * Seeded traffic that exercises every case of the settled walk: values that are words (learned positions,
 * with route words kept beside them), shaped ids, static paths, dirty and percent-encoded segments, the
 * one-character segments the full walk drops or reads as the overflow marker, deep paths, absolute-form
 * targets, queries and fragments.
 */
function traffic(seed: number): () => string {
  const rng = xorshift(seed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!
  const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo']
  const word = (): string => pick(syllables) + pick(syllables) + pick(syllables)
  const int = (): string => String(1 + Math.floor(rng() * 1e7))
  const hex = (): string => Math.floor(rng() * 2 ** 32).toString(16).padStart(8, '0')
  const uuid = (): string => `${hex()}-${hex().slice(0, 4)}-4${hex().slice(0, 3)}-a${hex().slice(0, 3)}-${hex()}${hex().slice(0, 4)}`
  const templates: Array<() => string> = [
    () => `/api/v1/namespaces/${word()}-${pick(['a', 'b', 'c'])}/${pick(['pods', 'services', 'events'])}`,
    () => `/api/v1/namespaces/${word()}/${pick(['pods', 'services'])}/${word()}-${Math.floor(rng() * 9)}`,
    () => `/users/${int()}`,
    () => `/users/${int()}/posts/${int()}?page=${int()}`,
    () => `/users/${pick(['search', 'me', 'search'])}`,
    () => `/customers/${pick([word(), 'search'])}/${pick(['orders', 'invoices'])}`,
    () => `/customers/search`,
    () => `/orders/${rng() < 0.2 ? uuid().toUpperCase() : uuid()}`,
    () => `/pages/${pick(['about', 'pricing', 'faq', 'terms', 'blog', 'careers'])}`,
    () => `/repos/${word()}/${word()}/${pick(['issues', 'pulls', 'commits'])}`,
    () => `/files/${pick(['report', 'notes', word()])}.${pick(['pdf', 'txt'])}`,
    () => `/q/${pick(['hello%20world', '%41BC', '%2e', 'a%2Fb', '%zz', 'plain'])}`,
    () => `/x/${pick(['_', '.', '-', '!', 'id', '..', 'a.b', '_x', 'café', 'x'.repeat(70), 'v2'])}${pick(['', '/tail'])}`,
    () => `/deep/a/b/c/d/e/f/${pick(['g', 'g/h', 'g/h/i', 'g/h/i/j', 'g/h/.', 'g/h/_'])}`,
    () => pick(['/', '', '/health', '/a//b', '/a\\b\\c', '/a/b?x=1#f', '/#frag', '*', 'http://host/p/1?x', 'users/7', '//a/b']),
    () => `/api/v1/${pick(['pods', 'nodes', 'events'])}?limit=${int()}`,
    () => `/nodes/${word()}${pick(['', '/status'])}`,
    // At a learned position with no word kept: segments the full walk drops (`.`, `%2e`) or reads as the
    // overflow marker (`!` sanitizes to `_`).
    () => `/leases/${pick([word(), word(), '%2e', '.', '!'])}`,
    // A word kept beside learned values, and dirty spellings of it that sanitize to it.
    () => pick([`/docs/${word()}/${pick(['view', 'edit'])}`, '/docs/report_pdf', '/docs/report.pdf', '/docs/report%2Epdf']),
  ]
  return () => pick(templates)()
}

/**
 * Names `count` requests with two models fed the same paths: one by the settled walk, falling back to the
 * full walk, the other by the full walk alone. They must give the same name to every request and stay the
 * same model (version, size); the counts say how often the settled walk answered.
 */
function compare(count: number, maxNodes?: number): { settled: number, declined: number } {
  const options = maxNodes === undefined ? {} : { maxNodes }
  const fast: RouteModel = createRouteModel(options)
  const full: RouteModel = createRouteModel(options)
  const next = traffic(7)
  let settled = 0
  let declined = 0
  for (let i = 0; i < count; i++) {
    const path = next()
    let got = fast.nameSettled(path)
    if (got === undefined) {
      declined++
      got = fast.name(pathTokens(path))
    } else settled++
    const want = full.name(pathTokens(path))
    if (got !== want) assert.unreachable(`request ${i}, ${JSON.stringify(path)}: settled walk ${got}, full walk ${want}`)
    if (fast.version !== full.version || fast.size !== full.size) {
      const parted = `version ${fast.version}/${full.version}, size ${fast.size}/${full.size}`
      assert.unreachable(`request ${i}, ${JSON.stringify(path)}: models parted (${parted})`)
    }
  }
  return { settled, declined }
}

test('the settled walk names every request as the full walk does and leaves the same model behind', () => {
  const { settled, declined } = compare(30_000)
  // Both paths must have run: most requests are settled, new words and odd segments are not.
  assert.ok(settled > 20_000, `settled ${settled}`)
  assert.ok(declined > 1_000, `declined ${declined}`)
})

test('the same at the node cap, where the full walk names by shape alone and creates no parameter child', () => {
  const { settled, declined } = compare(10_000, 60)
  assert.ok(settled > 1_000, `settled ${settled}`)
  assert.ok(declined > 1_000, `declined ${declined}`)
})

test('a settled walk counts the request at every node, so a word seen twice is kept beside a learned parameter', () => {
  const model = createRouteModel()
  assert.is(model.name(pathTokens('/customers/search')), 'customers.search')
  // The second request is the settled walk's: it must count, or `search` has one hit and becomes a value.
  assert.is(model.nameSettled('/customers/search'), 'customers.search')
  for (const who of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) {
    for (const what of ['orders', 'invoices']) {
      const path = `/customers/${who}/${what}`
      if (model.nameSettled(path) === undefined) model.name(pathTokens(path))
    }
  }
  assert.is(model.nameSettled('/customers/zed/orders'), 'customers.id.orders')
  assert.is(model.nameSettled('/customers/search'), 'customers.search')
})

test('declines what it cannot name without learning or decoding, and names the root', () => {
  const model = createRouteModel()
  assert.is(model.nameSettled('/'), 'root')
  assert.is(model.nameSettled('/users/42'), undefined, 'a new word')
  model.name(pathTokens('/users/42'))
  assert.is(model.nameSettled('/users/43'), 'users.id')
  assert.is(model.nameSettled('/users/%34%33'), undefined, 'percent-encoded')
  assert.is(model.nameSettled('http://host/users/43'), undefined, 'absolute-form')
  assert.is(model.nameSettled('/users/43/_'), undefined, 'the overflow marker')
})

test.run()
