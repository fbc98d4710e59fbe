// Scores the names a namer gave one traffic sample against the ideal names. Route requests are all but the scanner
// noise; a route is one ideal name of the corpus (templates with equal ideal names folded together).
//
//   agree        share of route requests named exactly their route's ideal name
//   routeAgree   the same per route, averaged over the routes hit (a rare route weighs as much as a hot one)
//   namesPerRoute  distinct names given to route requests / routes hit: 1.0 is ideal, more means names minted from
//                values (a namespace or login kept as a word), less means routes folded together
//   maxNames     most distinct names one route got, and that route
//   folded       routes hit some of whose requests got a name another route also got, or `other` (over budget):
//                their numbers are mixed with another route's
//   other        share of route requests named `other` (the maxRoutes budget was full)
//   noiseNames   distinct names the scanner noise got, `unmatched` excepted: names scanners spent from the budget

export const OVERFLOW = 'other'
export const UNMATCHED = 'unmatched'

export function score({ routes, route }, names) {
  const n = names.length
  const ideal = routes.map((r) => r.ideal)
  const owner = new Map() // name → the route that got it, or -2 once two routes did
  const perRoute = new Map() // route → { n, ok, names }
  const noise = new Set()
  let routeRequests = 0, agree = 0, other = 0
  for (let i = 0; i < n; i++) {
    const name = names[i]
    const ri = route[i]
    if (ri < 0) { if (name !== UNMATCHED) noise.add(name); continue }
    routeRequests++
    let pr = perRoute.get(ri)
    if (pr === undefined) perRoute.set(ri, (pr = { n: 0, ok: 0, names: new Set() }))
    pr.n++
    pr.names.add(name)
    if (name === ideal[ri]) { agree++; pr.ok++ }
    if (name === OVERFLOW) other++
    const o = owner.get(name)
    if (o === undefined) owner.set(name, ri)
    else if (o !== ri) owner.set(name, -2)
  }
  let routeAgree = 0, folded = 0, maxNames = 0, maxRoute = ''
  for (const [ri, pr] of perRoute) {
    routeAgree += pr.ok / pr.n
    if (pr.names.size > maxNames) { maxNames = pr.names.size; maxRoute = routes[ri].templates[0] }
    for (const name of pr.names) if (name === OVERFLOW || owner.get(name) === -2) { folded++; break }
  }
  const hit = perRoute.size
  return {
    requests: n,
    routeRequests,
    routesHit: hit,
    agree: routeRequests ? agree / routeRequests : 0,
    routeAgree: hit ? routeAgree / hit : 0,
    names: owner.size,
    namesPerRoute: hit ? owner.size / hit : 0,
    maxNames,
    maxNamesRoute: maxRoute,
    folded,
    other: routeRequests ? other / routeRequests : 0,
    noiseNames: noise.size,
  }
}

/** The most frequent (ideal → given) disagreements, with one example path each: what to look at first. */
export function misses({ routes, route, paths }, names, k = 5) {
  const by = new Map()
  for (let i = 0; i < names.length; i++) {
    const ri = route[i]
    if (ri < 0 || names[i] === routes[ri].ideal) continue
    const key = `${routes[ri].ideal} → ${names[i]}`
    const e = by.get(key)
    if (e) e.count++
    else by.set(key, { key, count: 1, path: paths[i] })
  }
  return [...by.values()].sort((a, b) => b.count - a.count).slice(0, k)
}
