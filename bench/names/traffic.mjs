// Deterministic request traffic over one corpus: routes drawn by a Zipf popularity, each parameter filled with a
// value of its kind (values Zipf-popular too, so hot namespaces and projects repeat), some query strings, and a
// share of scanner noise that reaches no route and is answered 404. Same (corpus, seed, count) → same requests:
// the generator is seeded here, Math.random is never used.
import { readFileSync } from 'node:fs'
import { prng } from './prng.mjs'
import { valueFor } from './values.mjs'

export { prng }

/**
 * The name a perfect namer gives a template: segments joined with `.`, a segment holding a `{param}` is `id` (a
 * value spanning several segments, a proxy `{path}`, is still one `id`), other characters than `[A-Za-z0-9_-]` → `_`,
 * no segment → `root`. `/api/v1/namespaces/{namespace}/pods/{name}/log` → `api.v1.namespaces.id.pods.id.log`.
 */
export function idealName(template) {
  const parts = template.split('/').filter(Boolean).map((s) => (s.includes('{') ? 'id' : s.replace(/[^A-Za-z0-9_-]/g, '_')))
  return parts.length === 0 ? 'root' : parts.join('.')
}

// Kubernetes' proxy `{path}` and `/logs/{logpath}` are routed by the API server as `{path:*}`: kubectl sends them with raw
// slashes, so they are the one kind of value generated across several segments.
const MULTI = new Set(['path', 'logpath'])

/**
 * A corpus as routes: templates with equal ideal names are one route (GitLab's `issues/{issueIId}` and
 * `issues/{issueId}`), the traffic drawing from each of them.
 */
export function loadCorpus(file) {
  const doc = JSON.parse(readFileSync(file, 'utf8'))
  const byIdeal = new Map()
  for (const { t, methods } of doc.templates) {
    const ideal = idealName(t)
    const route = byIdeal.get(ideal) ?? { ideal, templates: [], methods: [] }
    route.templates.push(t)
    for (const m of methods) if (!route.methods.includes(m)) route.methods.push(m)
    byIdeal.set(ideal, route)
  }
  return { api: doc.api, source: doc.source, templateCount: doc.templates.length, routes: [...byIdeal.values()] }
}

// ------------------------------------------------------------------------------------------------ routing
// A literal-first segment matcher over every template, like the routers the servers use: it proves each generated
// path reaches the route it was made for, and that scanner noise reaches none.
export function buildRouter(routes) {
  const root = { lit: new Map(), param: null, rest: -1, end: -1 }
  routes.forEach((route, index) => {
    for (const t of route.templates) {
      const segs = t.split('/').filter(Boolean)
      let node = root
      for (let i = 0; i < segs.length && node !== null; i++) {
        const seg = segs[i]
        if (!seg.includes('{')) {
          if (!node.lit.has(seg)) node.lit.set(seg, { lit: new Map(), param: null, rest: -1, end: -1 })
          node = node.lit.get(seg)
        } else if (i === segs.length - 1 && MULTI.has(seg.slice(1, -1))) {
          if (node.rest < 0) node.rest = index
          node = null
        } else {
          node = node.param ??= { lit: new Map(), param: null, rest: -1, end: -1 }
        }
      }
      if (node !== null && node.end < 0) node.end = index
    }
  })
  const match = (node, segs, k) => {
    if (k === segs.length) return node.end >= 0 ? node.end : -1
    const lit = node.lit.get(segs[k])
    const viaLit = lit ? match(lit, segs, k + 1) : -1
    if (viaLit >= 0) return viaLit
    const viaParam = node.param ? match(node.param, segs, k + 1) : -1
    return viaParam >= 0 ? viaParam : node.rest
  }
  return (path) => match(root, path.split('?')[0].split('/').filter(Boolean), 0)
}

// --------------------------------------------------------------------------------------------- popularity
// Routes are ranked by a seeded score (GET-able, shallow and everyday resources first) and drawn with weights
// (rank + 10)^-1.6: the top route gets ~6% of requests, and 200,000 requests reach nearly every route of a 600-route API.
const HOT = new RegExp(`/(${['pods', 'nodes', 'leases', 'configmaps', 'secrets', 'events', 'deployments', 'services', 'replicasets', 'jobs',
  'projects/\\{projectId\\}$', 'merge_requests', 'pipelines', 'issues', 'repository', 'branches', 'commits', 'notes', 'users',
  'customers', 'payment_intents', 'charges', 'subscriptions', 'invoices', 'prices', 'checkout', 'refunds', 'events'].join('|')})\\b`)
const COLD = /alpha|beta|admin|geo_|sidekiq|usage_data|test_helpers|treasury|issuing|climate|terminal|storage_moves|custom_attributes/
const ZIPF_OFFSET = 10
const ZIPF_S = 1.6

function ranking(routes, seed) {
  const score = (route) => {
    const r = prng(`${seed}|rank|${route.ideal}`)
    let s = -Math.log(1 - r.next()) // exponential spread: a few much-used routes, a long tail
    s *= Math.pow(0.75, Math.max(0, route.ideal.split('.').length - 3))
    if (route.methods.includes('GET')) s *= 2
    if (HOT.test(route.templates[0])) s *= 4
    if (COLD.test(route.templates[0])) s *= 0.2
    return s
  }
  const order = routes.map((route, i) => [score(route), i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, i]) => i)
  const cum = new Float64Array(order.length)
  let total = 0
  order.forEach((_, rank) => { total += Math.pow(rank + 1 + ZIPF_OFFSET, -ZIPF_S); cum[rank] = total })
  return (r) => {
    const x = r.next() * total
    let lo = 0, hi = cum.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cum[mid] > x) hi = mid
      else lo = mid + 1
    }
    return order[lo]
  }
}

// -------------------------------------------------------------------------------------------------- noise
const SCANS = ['/wp-login.php', '/.env', '/.git/config', '/xmlrpc.php', '/phpmyadmin/index.php', '/wp-admin/setup-config.php',
  '/.aws/credentials', '/actuator/health', '/actuator/env', '/server-status', '/favicon.ico', '/robots.txt', '/.DS_Store',
  '/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php', '/cgi-bin/luci/;stok=/locale', '/HNAP1/', '/owa/auth/logon.aspx',
  '/boaform/admin/formLogin', '/solr/admin/info/system', '/.git/HEAD', '/config.json', '/backup.zip', '/.env.production',
  '/swagger-ui.html', '/api/swagger.json', '/graphql', '/console/', '/manager/html', '/%2e%2e/%2e%2e/etc/passwd', '/info.php',
  '/wp-content/plugins/revslider/temp/update_extract/x.php', '/remote/fgt_lang', '/_ignition/execute-solution', '/sitemap.xml']
const EXT = ['php', 'asp', 'jsp', 'bak', 'sql', 'zip', 'env', 'txt', 'xml', 'yml', 'old']
const DIRS = ['wp-content', 'uploads', 'static', 'admin', 'cgi-bin', 'backup', 'api']
const B36 = '0123456789abcdefghijklmnopqrstuvwxyz'

function noise(r) {
  const x = r.next()
  if (x < 0.65) return SCANS[r.zipf(SCANS.length, 1) - 1]
  if (x < 0.8) return `/${r.pick(DIRS)}/${r.chars(B36, 3 + r.int(8))}.${r.pick(EXT)}`
  if (x < 0.9) return `/${r.chars(B36, 3 + r.int(12))}`
  return `/${r.pick(['db', 'dump', 'site', 'www', 'data', 'prod'])}${2015 + r.int(11)}.${r.pick(EXT)}`
}

const QUERIES = {
  kubernetes: ['watch=true&resourceVersion=48213377&timeoutSeconds=393', 'limit=500', 'labelSelector=app%3Dnginx',
    'fieldSelector=spec.nodeName%3Dworker-3', 'container=app&follow=true&tailLines=100', 'timeout=32s'],
  gitlab: ['per_page=100', 'per_page=100&page=2', 'ref=main', 'state=opened&scope=all', 'order_by=updated_at&sort=desc'],
  stripe: ['limit=10', 'limit=100&starting_after=cus_NffrFeUfNV2Hib', 'expand%5B%5D=customer', 'created%5Bgte%5D=1704067200'],
}

/**
 * `count` requests: { paths, route (Int32Array: route index, -1 for noise), methods, redrawn }. A path that the
 * router sends to another route than the one it was drawn for (a value equal to a sibling literal) is drawn again.
 */
export function generate(corpus, { seed = 'routemeter-names-1', count = 200_000, noiseRate = 0.02, queryRate = 0.15 } = {}) {
  const { api, routes } = corpus
  const router = buildRouter(routes)
  const pickRoute = ranking(routes, seed)
  const r = prng(`${seed}|traffic|${api}`)
  const queries = QUERIES[api] ?? ['page=2']
  const paths = new Array(count)
  const route = new Int32Array(count)
  const methods = new Array(count)
  let redrawn = 0
  const fill = (t) => {
    const segs = t.split('/').filter(Boolean)
    const out = []
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i]
      if (!seg.includes('{')) { out.push(seg); continue }
      const before = segs.slice(0, i).filter((s) => !s.includes('{'))
      out.push(seg.replace(/\{([^}]+)\}/g, (_, param) => {
        const value = valueFor(api, param, before, r, seed)
        // Clients put values through encodeURIComponent; only the wildcard tails keep their slashes.
        return MULTI.has(param) && seg === `{${param}}` && i === segs.length - 1
          ? value.split('/').map(encodeURIComponent).join('/')
          : encodeURIComponent(value)
      }))
    }
    return '/' + out.join('/')
  }
  for (let n = 0; n < count; n++) {
    if (r.next() < noiseRate) {
      let p = noise(r)
      while (router(p) >= 0) p = noise(r)
      paths[n] = p
      route[n] = -1
      methods[n] = 'GET'
      continue
    }
    const i = pickRoute(r)
    const { templates } = routes[i]
    let p = fill(templates[templates.length === 1 ? 0 : r.int(templates.length)])
    for (let k = 0; k < 10 && router(p) !== i; k++) { redrawn++; p = fill(r.pick(templates)) }
    if (router(p) !== i) throw new Error(`${api}: no path drawn for ${routes[i].templates[0]} reaches it (last ${p})`)
    paths[n] = r.next() < queryRate ? `${p}?${r.pick(queries)}` : p
    route[n] = i
    methods[n] = routes[i].methods.includes('GET') ? 'GET' : routes[i].methods[0]
  }
  return { paths, route, methods, redrawn }
}
