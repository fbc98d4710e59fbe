import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { resolveOptions } from '../src/options.js'
import { OptionError } from '../src/util/option-check.js'
import { connectMetrics, koaMetrics, memorySink, withMetrics } from '../src/index.js'

const listener = () => {}

const bad: Array<[string, Record<string, unknown>, RegExp]> = [
  ['an unknown option', { sinks: [] }, /option "sinks".*not an option/],
  ['a sink without send', { sink: { flush() {} } }, /option "sink" must be an object with send/],
  ['a prefix with a colon', { prefix: 'a:b' }, /option "prefix"/],
  ['dimensions with a number value', { dimensions: { a: 1 } }, /option "dimensions"/],
  ['routes not starting with /', { routes: ['users/:id'] }, /option "routes"/],
  ['an invalid route pattern', { routes: ['/users/:'] }, /option "routes" has an invalid path-to-regexp pattern/],
  ['maxRoutes of zero', { maxRoutes: 0 }, /option "maxRoutes" must be an integer from 1/],
  ['maxRoutes not an integer', { maxRoutes: 1.5 }, /option "maxRoutes"/],
  ['an unknown cpu mode', { cpu: 'thread' }, /option "cpu" must be one of "attributed", "window", false, got "thread"/],
  ['enabled as a string', { enabled: 'no' }, /option "enabled" must be true or false, got "no"/],
  ['onError not a function', { onError: 'log' }, /option "onError"/],
  ['exclude with a number', { exclude: [5] }, /option "exclude"/],
  ['exclude as a path without its slash', { exclude: 'health' }, /option "exclude"/],
  ['flushInterval below 10 ms', { flushInterval: 1 }, /option "flushInterval"/],
  ['maxBuffer below batchSize', { batchSize: 100, maxBuffer: 50 }, /option "maxBuffer" must be at least batchSize \(100\)/],
]

for (const [what, options, message] of bad) {
  test(`${what} throws a TypeError naming the option, from every adapter`, () => {
    const adapters = [
      () => withMetrics(listener, options as never), () => connectMetrics(options as never), () => koaMetrics(options as never),
    ]
    for (const make of adapters) {
      assert.throws(make, (e: Error) => e instanceof TypeError && message.test(e.message))
    }
  })
}

test('a bad option is an OptionError carrying the option\'s name, with no owner (the options every wrapper shares)', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ maxRoutes: 0 }, 'maxRoutes'], [{ sinks: [] }, 'sinks'], [{ cpu: 'thread' }, 'cpu'], [{ exclude: [5] }, 'exclude'],
    [{ batchSize: 100, maxBuffer: 50 }, 'maxBuffer'], [{ onError: 'log' }, 'onError'],
  ]
  for (const [options, option] of cases) {
    assert.throws(() => resolveOptions(options as never, {}),
      (e: unknown) => e instanceof OptionError && e.option === option && e.owner === '', JSON.stringify(options))
  }
  try { resolveOptions({ maxRoutes: 0 }, {}); assert.unreachable() } catch (e) {
    assert.is((e as Error).message, 'routemeter: option "maxRoutes" must be an integer from 1 to 1000000, got 0')
  }
  assert.throws(() => resolveOptions(5 as never, {}), (e: unknown) => e instanceof OptionError && e.option === 'options')
})

test('the environment fills what the options leave out, and options win', () => {
  const env = { ROUTEMETER_PREFIX: 'envprefix', ROUTEMETER_MAX_ROUTES: '50', ROUTEMETER_DISABLED: '1', ROUTEMETER_CPU: 'window' }
  const fromEnv = resolveOptions({}, env)
  assert.equal([fromEnv.prefix, fromEnv.maxRoutes, fromEnv.enabled, fromEnv.cpu], ['envprefix', 50, false, 'window'])
  const explicit = resolveOptions({ prefix: 'p', maxRoutes: 7, enabled: true, cpu: false }, env)
  assert.equal([explicit.prefix, explicit.maxRoutes, explicit.enabled, explicit.cpu], ['p', 7, true, false])
  assert.is(resolveOptions({}, { ROUTEMETER_CPU: 'false' }).cpu, false)
})

test('a malformed environment value is a TypeError too', () => {
  assert.throws(() => resolveOptions({}, { ROUTEMETER_MAX_ROUTES: 'lots' }), /option "maxRoutes"/)
})

test('defaults: no prefix, 1000 routes, attributed CPU, enabled, 1 s flushes of up to 500', () => {
  const d = resolveOptions(undefined, {})
  assert.equal([d.prefix, d.maxRoutes, d.cpu, d.enabled, d.flushInterval, d.batchSize, d.maxBuffer],
    ['', 1000, 'attributed', true, 1000, 500, 10_000])
  const sink = memorySink()
  assert.is(resolveOptions({ sink }, {}).sink, sink)
})

test('exclude takes one path or one RegExp as well as a list, and ignores the query string', () => {
  const req = (url: string) => ({ url, method: 'GET', headers: {} }) as never
  const onePath = resolveOptions({ exclude: '/health' }, {}).exclude!
  assert.equal([onePath(req('/health')), onePath(req('/health?probe=1')), onePath(req('/healthz')), onePath(req('/'))],
    [true, true, false, false])
  const onePattern = resolveOptions({ exclude: /^\/internal\// }, {}).exclude!
  assert.equal([onePattern(req('/internal/x')), onePattern(req('/public/internal/x'))], [true, false])
})

test('exclude reads the path as the route namer does: not a fragment, nor the scheme and host of an absolute-form target', () => {
  const req = (url: string) => ({ url, method: 'GET', headers: {} }) as never
  const onePath = resolveOptions({ exclude: '/health' }, {}).exclude!
  assert.equal(
    [onePath(req('http://shop.example/health')), onePath(req('http://shop.example:8080/health?probe=1')), onePath(req('/health#top')),
      onePath(req('http://shop.example/healthz')), onePath(req('http://health/'))],
    [true, true, true, false, false],
  )
  const onePattern = resolveOptions({ exclude: /^\/internal\// }, {}).exclude!
  assert.equal([onePattern(req('http://shop.example/internal/x')), onePattern(req('http://internal/x'))], [true, false])
})

test.run()
