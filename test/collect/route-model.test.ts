import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { pathTokens } from '../../src/collect/normalize-path.js'
import { createRouteModel, type RouteModel } from '../../src/collect/route-model.js'
import { LEAF_VALUES, newNode, sharesSecondContinuations } from '../../src/collect/route-rules.js'

const name = (model: RouteModel, path: string): string => model.name(pathTokens(path))

/** Feeds `paths` in order and returns their names. */
const feed = (model: RouteModel, paths: readonly string[]): string[] => paths.map((path) => name(model, path))

test('the rule one level further stops reading once the words it found rule it out', () => {
  // 200 children of one word, each with 50 children of its own leading to a word of their own: 10,000 nodes the
  // rule read whole on every new word three levels down (a scanner's distinct paths, quadratic in the model).
  const top = newNode(null, 'atk')
  top.words = new Map()
  let reads = 0
  for (let c = 0; c < 200; c++) {
    const child = newNode(top, `w${c}`)
    child.words = new Map()
    top.words.set(child.key, child)
    for (let g = 0; g < 50; g++) {
      const grandchild = newNode(child, `g${c}x${g}`)
      const leaf = newNode(grandchild, `l${c}x${g}`)
      const words = new Map([[leaf.key, leaf]])
      Object.defineProperty(grandchild, 'words', { get: () => { reads++; return words } })
      child.words.set(grandchild.key, grandchild)
    }
  }
  assert.is(sharesSecondContinuations(top), false)
  assert.ok(reads <= 2 * 101, `read ${reads} of 10,000 grandchildren`)
})

test('learns a plain-word parameter from the route words that follow its values', () => {
  const model = createRouteModel()
  const names = feed(model, [
    '/api/v1/namespaces/default/pods',
    '/api/v1/namespaces/kube-system/pods',
    '/api/v1/namespaces/default/configmaps',
    '/api/v1/namespaces/monitoring/pods',
    '/api/v1/namespaces/kube-system/configmaps',
    '/api/v1/namespaces/team-a/pods',
  ])
  // Six requests, four distinct namespaces: the first five are named as they come, the rule fires on the
  // sixth (six (namespace, next word) pairs over two next words), and from then on every namespace is `id`.
  assert.equal(names, [
    'api.v1.namespaces.default.pods',
    'api.v1.namespaces.kube-system.pods',
    'api.v1.namespaces.default.configmaps',
    'api.v1.namespaces.monitoring.pods',
    'api.v1.namespaces.kube-system.configmaps',
    'api.v1.namespaces.id.pods',
  ])
  assert.is(name(model, '/api/v1/namespaces/payments-prod/secrets'), 'api.v1.namespaces.id.secrets')
  assert.is(name(model, '/api/v1/namespaces/default'), 'api.v1.namespaces.id')
})

test('keeps route words that lead each to their own values, however many there are', () => {
  const model = createRouteModel()
  const resources = ['pods', 'services', 'configmaps', 'secrets', 'endpoints', 'events', 'nodes', 'leases']
  for (let i = 0; i < 40; i++) {
    const resource = resources[i % resources.length]!
    name(model, `/api/v1/${resource}/${resource}-${['alpha', 'beta', 'gamma', 'delta', 'omega'][i % 5]}`)
    name(model, `/api/v1/${resource}`)
  }
  for (const resource of resources) assert.is(name(model, `/api/v1/${resource}`), `api.v1.${resource}`)
  assert.is(name(model, '/api/v1/pods/web-zeta'), 'api.v1.pods.id')
})

test(`learns leaf values under a word after ${LEAF_VALUES} distinct ones`, () => {
  const model = createRouteModel()
  const names = feed(model, ['/nodes/worker-one', '/nodes/minikube', '/nodes/worker-one', '/nodes/control-plane', '/nodes/gpu-node'])
  assert.equal(names, ['nodes.worker-one', 'nodes.minikube', 'nodes.worker-one', 'nodes.control-plane', 'nodes.id'])
  assert.is(name(model, '/nodes/minikube'), 'nodes.id')
  assert.is(name(model, '/nodes/never-seen'), 'nodes.id')
})

test('keeps route words under a value, however many leaves they are', () => {
  const model = createRouteModel()
  const actions = ['approve', 'changes', 'notes', 'pipelines', 'rebase', 'merge', 'subscribe', 'todo', 'diffs', 'commits']
  for (let i = 0; i < actions.length; i++) name(model, `/projects/${100 + i}/merge_requests/${i + 1}/${actions[i]}`)
  for (const action of actions) assert.is(name(model, `/projects/7/merge_requests/9/${action}`), `projects.id.merge_requests.id.${action}`)
})

test('a word followed by what follows the ids beside it is named as one of them', () => {
  const model = createRouteModel()
  assert.is(name(model, '/groups/42/projects'), 'groups.id.projects')
  assert.is(name(model, '/groups/acme/projects'), 'groups.id.projects')
  // A word seen first, then shown to be a value by the ids' continuation, is re-mapped too.
  assert.is(name(model, '/groups/globex/variables'), 'groups.globex.variables')
  assert.is(name(model, '/groups/77/variables'), 'groups.id.variables')
  assert.is(name(model, '/groups/globex/variables'), 'groups.id.variables')
  // A word beside the ids with a continuation of its own stays a word.
  assert.is(name(model, '/groups/search/advanced'), 'groups.search.advanced')
})

test('a route word beside a learned parameter stays a word when it was seen twice and shares nothing', () => {
  const model = createRouteModel()
  feed(model, ['/users/search', '/users/search', '/users/alice/repos', '/users/bob/repos', '/users/carol/repos', '/users/alice/gists'])
  assert.is(name(model, '/users/dave/repos'), 'users.id.repos')
  assert.is(name(model, '/users/search'), 'users.search')
  // Seen once before the position was learned: it cannot be told from a login, so it is a value.
  const other = createRouteModel()
  feed(other, ['/users/me', '/users/alice/repos', '/users/bob/repos', '/users/carol/repos', '/users/alice/gists'])
  assert.is(name(other, '/users/me'), 'users.id')
})

test('versions stay words: API groups sharing `v1` are not values, nor are versions under a group', () => {
  const model = createRouteModel()
  const groups = ['apps', 'batch', 'coordination_k8s_io', 'networking_k8s_io', 'storage_k8s_io']
  for (const group of groups) {
    for (const version of ['v1', 'v1beta1', 'v2alpha1']) {
      for (const namespace of ['default', 'kube-system', 'monitoring', 'team-a']) {
        name(model, `/apis/${group}/${version}/namespaces/${namespace}/things`)
        name(model, `/apis/${group}/${version}/namespaces/${namespace}/others`)
      }
      name(model, `/apis/${group}/${version}`)
    }
  }
  assert.is(name(model, '/apis/batch/v1/namespaces/ci/things'), 'apis.batch.v1.namespaces.id.things')
  assert.is(name(model, '/apis/apps/v2alpha1'), 'apis.apps.v2alpha1')
})

test('rename gives the name a path gets now: names minted before learning are stale', () => {
  const model = createRouteModel()
  const early = name(model, '/nodes/worker-one')
  assert.is(model.rename(early), early)
  const version = model.version
  feed(model, ['/nodes/minikube', '/nodes/control-plane', '/nodes/gpu-node'])
  assert.is(model.version, version + 1, 'one learning event: /nodes/ takes a parameter')
  assert.is(model.rename(early), 'nodes.id')
  assert.is(model.rename('root'), 'root')
  assert.is(model.rename('never.seen.before'), 'never.seen.before')
})

test('is deterministic: the same requests in the same order give the same names and model', () => {
  const paths: string[] = []
  for (let i = 0; i < 300; i++) paths.push(`/t/${['a', 'b', 'c'][i % 3]}${(i * 7919) % 37}/x${i % 5}/${i % 4 === 0 ? 'leaf' : 'y'}`)
  const one = createRouteModel()
  const two = createRouteModel()
  assert.equal(feed(one, paths), feed(two, paths))
  assert.is(one.size, two.size)
  assert.is(one.version, two.version)
})

test('stays under its node cap and names every path past it by shape, without throwing', () => {
  const model = createRouteModel({ maxNodes: 50 })
  for (let i = 0; i < 2000; i++) {
    // Words by shape (letters and a number): kept as they are, past the cap too.
    const out = name(model, `/w${i % 97}/x${i % 89}/${'z'.repeat(i % 13)}${i % 83}q`)
    assert.is(out, `w${i % 97}.x${i % 89}.${'z'.repeat(i % 13)}${i % 83}q`)
    assert.ok(model.size <= 50, `size ${model.size}`)
  }
  assert.is(model.size, 50, 'full')
  assert.is(model.name([]), 'root')
  assert.is(model.name(['id', '_']), 'id._')
  assert.is(model.name(['a', 'id', 'b', 'id', 'c', 'id', 'd', 'id', '_']), 'a.id.b.id.c.id.d.id._')
})

test('a file path with raw slashes is learned level by level, so deep file trees keep their words', () => {
  // Documented limit: directories and file names share no continuations, so only an encoded path
  // (`src%2Fmain.ts`, one segment) collapses; the budget bounds the rest.
  const model = createRouteModel()
  feed(model, ['/repos/a/contents/src/main_ts', '/repos/b/contents/lib/x_js', '/repos/c/contents/docs/a_md', '/repos/d/contents/src/b_ts'])
  assert.is(name(model, '/repos/e/contents/src/c_ts'), 'repos.id.contents.src.c_ts')
})

test('resource kinds whose objects share names stay words once the namespace before them is learned', () => {
  const model = createRouteModel()
  const kinds = ['pods', 'services', 'configmaps', 'secrets', 'endpoints', 'events', 'leases']
  const namespaces = ['default', 'kube-system', 'monitoring', 'team-a', 'team-b', 'ingress']
  // Each namespace in turn sees every kind; five apps have an object of the same name in every kind,
  // so the kinds share all of their object names.
  for (let i = 0; i < 120; i++) {
    const app = ['web', 'api', 'worker', 'cache', 'db'][i % 5]!
    name(model, `/api/v1/namespaces/${namespaces[Math.floor(i / 7) % namespaces.length]}/${kinds[i % kinds.length]}/${app}`)
  }
  for (const kind of kinds) assert.is(name(model, `/api/v1/namespaces/fresh-ns/${kind}/web`), `api.v1.namespaces.id.${kind}.id`)
})

test('learns two values in a row under a word, when the words after them are shared', () => {
  const model = createRouteModel()
  const owners = ['octocat', 'torvalds', 'gaearon', 'sindresorhus', 'tj', 'yyx990803', 'addyosmani', 'kentcdodds']
  const actions = ['issues', 'pulls', 'commits']
  for (let i = 0; i < 60; i++) {
    const owner = owners[i % owners.length]!
    name(model, `/repos/${owner}/${owner}-project-${['alpha', 'beta', 'gamma', 'delta'][i % 4]}/${actions[i % 3]}`)
  }
  assert.is(name(model, '/repos/newcomer/brand-new/issues'), 'repos.id.id.issues')
  assert.is(name(model, '/repos/octocat/octocat-project-alpha/pulls'), 'repos.id.id.pulls')
})

test('a hot value seen before its position was learned is still a value when it leads where the others lead', () => {
  const model = createRouteModel()
  feed(model, ['/ns/hot/events', '/ns/hot/events', '/ns/a/pods', '/ns/b/pods', '/ns/c/pods', '/ns/a/secrets', '/ns/b/secrets'])
  assert.is(name(model, '/ns/d/pods'), 'ns.id.pods')
  assert.is(name(model, '/ns/e/events'), 'ns.id.events')
  assert.is(name(model, '/ns/hot/events'), 'ns.id.events')
})

test.run()
