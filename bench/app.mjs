// The application every contender serves: three routes, the same handler functions whether they sit
// behind bare node:http, behind a metrics wrapper, or inside Express. Only the wrapping changes, so the
// difference in CPU per request between two contenders is what the wrapping costs.
//
//   /t/...  tiny:  a 2-byte text body, synchronous. Shows the fixed per-request cost of a wrapper.
//   /j/...  json:  three awaits (two of them real event-loop hops), then JSON.stringify of a ~20 KB
//                  object built for this request (170 rows of 8 values). Shows the cost on a typical async API route.
//   /c/...  cpu:   a fixed synchronous burn of ~1 ms. Shows the cost when the handler dominates.
//   /a/...  await20: the json route's work behind 20 awaits (two real hops, 18 async middleware-like steps).
//                  Shows whether a wrapper's cost grows with the awaits of a request.
//
// Each route answers on many paths (numbers, UUIDs, fixed words, nested ids; see paths.mjs) so that route
// naming, name caches and cardinality limits see realistic input, not one URL repeated.

/** Requests that reached a handler. The server reads this over the measured window. */
export const served = { count: 0 }

const TEXT_HEADERS = { 'content-type': 'text/plain; charset=utf-8', 'content-length': '2' }

export function tiny(req, res) {
  served.count++
  res.writeHead(200, TEXT_HEADERS)
  res.end('ok')
}

// A real event-loop hop, like a database or cache answering.
const hop = () => new Promise((resolve) => setImmediate(resolve))

// Rows as arrays, not objects with keys. With 100 objects of 8 keys, one process's JSON.stringify counted
// ~30,000 instructions a request (~4 % of the route) more than another's running the same code, as much as the
// wrappers cost here (bench/instructions.mjs, Node 24.22: `SerializeString` +30,000 for a contender in one run
// and not in the next). Likely why: V8 copies a repeated key through a 64-entry cache indexed by the key
// string's address, so whether two keys collide there depends on where the strings landed in that heap. Rows
// carry the same values through the same serializer, with no key cache to draw from (bench/README.md, Routes).
const COLUMNS = ['id', 'sku', 'name', 'price', 'currency', 'tags', 'inStock', 'updatedAt']
const ROWS = 170

function buildPayload(url) {
  const items = new Array(ROWS)
  for (let i = 0; i < ROWS; i++) {
    items[i] = [
      i,
      `SKU-${(i * 7919) % 100000}`,
      `Item number ${i} for ${url}`,
      Math.round(i * 13.37 * 100) / 100,
      'EUR',
      ['alpha', 'beta', i % 2 ? 'odd' : 'even'],
      i % 3 !== 0,
      '2026-11-22T07:00:00.000Z',
    ]
  }
  return { url, page: 1, total: ROWS, columns: COLUMNS, items }
}

export async function json(req, res) {
  served.count++
  try {
    await hop()
    await Promise.resolve()
    await hop()
    const body = JSON.stringify(buildPayload(req.url))
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  } catch (err) {
    res.statusCode = 500
    res.end(String(err))
  }
}

// One async step of a middleware chain: an async function whose result is awaited.
async function step(n) { return n + 1 }

export async function await20(req, res) {
  served.count++
  try {
    let n = 0
    await hop()
    for (let i = 0; i < 18; i++) n = await step(n)
    await hop()
    const payload = buildPayload(req.url)
    payload.page = n - 17
    const body = JSON.stringify(payload)
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  } catch (err) {
    res.statusCode = 500
    res.end(String(err))
  }
}

// 480k xorshift steps take ~1 ms on the bench machine (Xeon, Node 20). Fixed work, not fixed time, so a
// slower contender cannot shorten it.
export const BURN_STEPS = 480_000
export function burn(n) {
  let x = 0x9e3779b9
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5 }
  return x >>> 0
}
const BURN_RESULT = String(burn(BURN_STEPS))

export function cpu(req, res) {
  served.count++
  const body = String(burn(BURN_STEPS))
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(body.length) })
  res.end(body)
}

export function notFound(req, res) {
  res.writeHead(404, TEXT_HEADERS)
  res.end('no')
}

/** The bare node:http application: dispatch on the first path segment. */
export function app(req, res) {
  const url = req.url
  if (url.length > 3 && url.charCodeAt(2) === 47 /* / */) {
    switch (url.charCodeAt(1)) {
      case 116 /* t */: return tiny(req, res)
      case 106 /* j */: return json(req, res)
      case 99 /* c */: return cpu(req, res)
      case 97 /* a */: return await20(req, res)
    }
  }
  return notFound(req, res)
}

/** The route templates the paths below are drawn from (Express registers exactly these). */
export const TEMPLATES = [
  '/users/:id',
  '/orders/:id',
  '/users/:id/posts/:post',
  '/pages/:slug',
  '/v2/items/:id',
]

export const ROUTES = {
  tiny: { prefix: '/t', handler: tiny },
  json: { prefix: '/j', handler: json },
  cpu: { prefix: '/c', handler: cpu },
  await20: { prefix: '/a', handler: await20 },
}

/** Registers the three routes on an Express app, one handler per template, like a real app would. */
export function mountExpress(expressApp) {
  for (const { prefix, handler } of Object.values(ROUTES)) {
    for (const template of TEMPLATES) expressApp.get(prefix + template, handler)
  }
  expressApp.use(notFound)
  return expressApp
}

/** What each route must answer, checked before any timing. */
export function checkResponse(routeName, status, body) {
  if (status !== 200) return `status ${status}`
  switch (routeName) {
    case 'tiny': return body === 'ok' ? null : `body ${JSON.stringify(body.slice(0, 40))}`
    case 'cpu': return body === BURN_RESULT ? null : `body ${JSON.stringify(body.slice(0, 40))}`
    case 'await20':
    case 'json': {
      let parsed
      try { parsed = JSON.parse(body) } catch { return 'body is not JSON' }
      if (!Array.isArray(parsed.items) || parsed.items.length !== ROWS) return `JSON without ${ROWS} rows`
      if (routeName === 'await20' && parsed.page !== 1) return `the 18 steps counted to ${parsed.page + 17}, not 18`
      if (body.length < 15_000 || body.length > 30_000) return `JSON body of ${body.length} bytes, expected ~20 KB`
      return null
    }
  }
  return 'unknown route'
}
