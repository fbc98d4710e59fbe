#!/usr/bin/env node
// Rebuilds bench/names/corpora/*.json, the route tables the naming benchmark draws its traffic from, out of API
// clients published on npm. The corpora are committed, so the benchmark itself needs none of these packages:
//
//   npm install --prefix /tmp/names-extract @kubernetes/client-node@2 @gitbeaker/core@43 stripe@23
//   NAMES_EXTRACT=/tmp/names-extract node bench/names/extract.mjs
//
// Each corpus: { api, source: { package, version, read }, templates: [{ t, methods }] }, `t` a path template with
// `{param}` placeholders, as the server sees it (Kubernetes from /, GitLab under /api/v4, Stripe under /v1).
// Templates are read the way each client builds its URLs, not from hand-written lists:
//   kubernetes  every `const localVarPath = '/api/v1/namespaces/{namespace}/pods'` of the generated API classes,
//               with the `HttpMethod.X` of the request it makes;
//   gitlab      gitbeaker builds paths at run time (`endpoint\`projects/${projectId}/jobs\``, branches on options),
//               so every method of every class in dist/map.json (inherited ones too) is called with `{placeholder}`
//               arguments against a requester that records the method and URL; option-supplied path values are
//               tried one at a time and all together;
//   stripe      every `_makeRequest('GET', \`/v1/customers/${encodeURIComponent(id)}\`)` of cjs/resources/**.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const here = new URL('.', import.meta.url).pathname
const root = process.env.NAMES_EXTRACT ?? '/tmp/names-extract'
const pkg = (name) => join(root, 'node_modules', name)
const version = (name) => JSON.parse(readFileSync(join(pkg(name), 'package.json'), 'utf8')).version

function kubernetes() {
  const dir = join(pkg('@kubernetes/client-node'), 'dist', 'gen', 'apis')
  const found = new Map()
  for (const file of readdirSync(dir).filter((f) => f.endsWith('Api.js')).sort()) {
    const text = readFileSync(join(dir, file), 'utf8')
    // The path and the method sit a few lines apart in every generated request builder; the lazy gap never crosses
    // into the next builder because each one has its own makeRequestContext.
    const builders = /localVarPath = '([^']+)'[\s\S]*?makeRequestContext\(localVarPath, HttpMethod\.([A-Z]+)\)/g
    for (const [, t, method] of text.matchAll(builders)) {
      add(found, t, method)
    }
  }
  return corpus('kubernetes', '@kubernetes/client-node', 'dist/gen/apis/*Api.js: localVarPath + HttpMethod', found)
}

// gitbeaker's generic resources name their ids resourceId/resource2Id/resourceIId; the literal before says what they are.
const RESOURCE_ID = { projects: 'projectId', groups: 'groupId', users: 'userId', epics: 'epicIId', issues: 'issueIId',
  merge_requests: 'mergerequestIId', snippets: 'snippetId', commits: 'sha' }

async function gitlab() {
  const dist = join(pkg('@gitbeaker/core'), 'dist')
  const core = await import(pathToFileURL(join(dist, 'index.mjs')).href)
  const map = JSON.parse(readFileSync(join(dist, 'map.json'), 'utf8'))
  const found = new Map()
  const requesterFn = (resource) => {
    const base = resource.url.endsWith('/') ? resource.url : `${resource.url}/`
    const record = (method) => async (endpoint) => {
      // A few endpoints start with `/`: the REST client would drop /api/v4 for them, the GitLab server does not.
      const path = new URL(String(endpoint).replace(/^\/+/, ''), base).pathname
      let t = path.replace(/%7B([A-Za-z0-9_]+)%7D/g, '{$1}')
      while (/%2[5F]/i.test(t)) t = decodeURIComponent(t) // Maven paths are encoded twice
      const segs = t.split('/')
      for (let i = 1; i < segs.length; i++) {
        if (/^\{resource(Id|2Id|IId)\}$/.test(segs[i]) && RESOURCE_ID[segs[i - 1]]) segs[i] = `{${RESOURCE_ID[segs[i - 1]]}}`
      }
      t = segs.join('/')
      if (!/undefined|object|null/.test(t)) add(found, t, method.toUpperCase())
      return { body: {}, headers: {}, status: 200 }
    }
    return Object.fromEntries(['get', 'post', 'put', 'patch', 'delete'].map((m) => [m, record(m)]))
  }
  const silence = process.emitWarning
  process.emitWarning = () => {} // deprecated endpoints warn on every call
  let calls = 0
  for (const cls of Object.keys(map)) {
    if (typeof core[cls] !== 'function') continue
    const api = new core[cls]({ requesterFn, token: 'x', host: 'https://gitlab.example' })
    // map.json lists each class's own methods only; the generic resources' inherited ones (CommitDiscussions.all,
    // the template classes) are a third of the API, so the prototype chain is walked instead.
    const names = new Set()
    for (let p = Object.getPrototypeOf(api); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      for (const n of Object.getOwnPropertyNames(p)) if (n !== 'constructor' && typeof p[n] === 'function') names.add(n)
    }
    for (const name of [...names].sort()) {
      const source = api[name].toString()
      const args = parameters(source)
      // Path values taken from the options object rather than positional arguments (`{ pipelineId } = {}`).
      const fromOptions = [...new Set([...source.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]))]
        .filter((k) => !args.includes(k) && !/^url\d*$|^prefix$/.test(k))
      const all = Object.fromEntries(fromOptions.map((k) => [k, `{${k}}`]))
      const variants = [{}, all, ...fromOptions.map((k) => ({ [k]: `{${k}}` }))]
      for (const options of variants) {
        calls++
        const values = args.map((a) => (a === null ? { ...options } : `{${a}}`))
        if (!args.includes(null)) values.push({ ...options })
        try {
          await api[name](...values)
        } catch {
          // The method refused a placeholder or choked on the empty answer: a URL it asked for is already recorded.
        }
      }
    }
  }
  process.emitWarning = silence
  console.error(`gitlab: ${calls} calls`)
  return corpus('gitlab', '@gitbeaker/core', 'every method of the dist/map.json classes called with placeholders, URLs recorded', found)
}

function stripe() {
  const found = new Map()
  const walk = (dir) => {
    for (const f of readdirSync(dir).sort()) {
      const p = join(dir, f)
      if (statSync(p).isDirectory()) walk(p)
      else if (f.endsWith('.js')) {
        for (const [, method, q1, q2] of readFileSync(p, 'utf8').matchAll(/_makeRequest\('([A-Z]+)', (?:'([^']*)'|`([^`]*)`)/g)) {
          const t = (q1 ?? q2).replace(/\$\{encodeURIComponent\(([A-Za-z_]+)\)\}/g, '{$1}')
          if (!t.includes('$')) add(found, t, method)
        }
      }
    }
  }
  walk(join(pkg('stripe'), 'cjs', 'resources'))
  return corpus('stripe', 'stripe', 'cjs/resources/**/*.js: _makeRequest(method, path)', found)
}

/** A method's parameter names from its source; null for an options object (`options`, `{ a, ...rest } = {}`). */
function parameters(source) {
  const open = source.indexOf('(')
  let depth = 0, end = open
  for (; end < source.length; end++) {
    if (source[end] === '(') depth++
    else if (source[end] === ')' && --depth === 0) break
  }
  const out = []
  let cur = ''
  depth = 0
  for (const c of source.slice(open + 1, end)) {
    if ('({['.includes(c)) depth++
    if (')}]'.includes(c)) depth--
    if (c === ',' && depth === 0) { out.push(cur.trim()); cur = '' } else cur += c
  }
  if (cur.trim()) out.push(cur.trim())
  return out.map((p) => (p.startsWith('{') || /^options\b/.test(p) ? null : p.replace(/\s*=[\s\S]*$/, '')))
}

function add(found, t, method) {
  const methods = found.get(t) ?? []
  if (!methods.includes(method)) methods.push(method)
  found.set(t, methods)
}

function corpus(api, name, read, found) {
  const templates = [...found].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([t, methods]) => ({ t, methods: methods.sort() }))
  return { api, source: { package: name, version: version(name), read }, templates }
}

mkdirSync(join(here, 'corpora'), { recursive: true })
for (const doc of [kubernetes(), await gitlab(), stripe()]) {
  // One template per line: small diffs when a client upgrade adds routes.
  const body = doc.templates.map((t) => JSON.stringify(t)).join(',\n')
  const head = JSON.stringify({ api: doc.api, source: doc.source }).slice(0, -1)
  writeFileSync(join(here, 'corpora', `${doc.api}.json`), `${head},"templates":[\n${body}\n]}\n`)
  console.error(`corpora/${doc.api}.json: ${doc.templates.length} templates from ${doc.source.package}@${doc.source.version}`)
}
