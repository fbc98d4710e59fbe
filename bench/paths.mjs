// The request paths the load generator sends, per route. Five shapes, in turn:
//
//   /t/users/4821907                 integer id
//   /t/orders/7da2849d-73eb-…        UUID (one in ten upper-case)
//   /t/users/80902/posts/3194618     nested integer ids
//   /t/pages/hello-world             fixed words (8 of them: these repeat, like a site's static pages)
//   /t/v2/items/00893a34-bd83-…      versioned path with a UUID
//
// Ids are fresh random numbers for every request (a seeded PRNG, so runs are repeatable), which is what
// real traffic looks like to a route-name cache: nearly every URL is new, the route names are few.
import { ROUTES } from './app.mjs'

const WORDS = ['about', 'pricing', 'contact', 'hello-world', 'terms', 'careers', 'blog', 'faq']

function xorshift(seed) {
  let x = seed >>> 0 || 1
  return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0 }
}

const hex8 = (n) => n.toString(16).padStart(8, '0')

/** A function returning the next path for `route`, forever; the same sequence for the same seed. */
export function pathFactory(route, seed = 42) {
  const { prefix } = ROUTES[route]
  const next = xorshift(seed)
  const int = () => 1 + (next() % 9_999_999)
  const uuid = () => {
    const a = hex8(next()); const b = hex8(next()); const c = hex8(next()); const d = hex8(next())
    return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-a${c.slice(1, 4)}-${c.slice(4, 8)}${d}`
  }
  let i = 0
  return () => {
    switch (i++ % 5) {
      case 0: return `${prefix}/users/${int()}`
      case 1: return `${prefix}/orders/${next() % 10 === 0 ? uuid().toUpperCase() : uuid()}`
      case 2: return `${prefix}/users/${int()}/posts/${int()}`
      case 3: return `${prefix}/pages/${WORDS[next() % WORDS.length]}`
      default: return `${prefix}/v2/items/${uuid()}`
    }
  }
}

/** A function returning the next complete HTTP/1.1 request (keep-alive is HTTP/1.1's default). */
export function requestFactory(route, seed) {
  const nextPath = pathFactory(route, seed)
  return () => `GET ${nextPath()} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`
}

/** The first `count` paths of a route, for checks. */
export function pathsFor(route, count = 10, seed) {
  const nextPath = pathFactory(route, seed)
  return Array.from({ length: count }, nextPath)
}
