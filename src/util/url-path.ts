/**
 * The path part of a request target: no query, no fragment, no `scheme://host` of absolute-form
 * (`GET http://host/users?x=1 HTTP/1.1`). One implementation for every place that needs a request's path
 * (naming, `exclude`, the agent's `/metrics` endpoint), so they agree on what the path of a URL is.
 *
 * @example
 * pathOf('/users/7?tab=posts#top') // '/users/7'
 * pathOf('http://shop.example/cart') // '/cart'
 */
export function pathOf(url: string): string {
  let end = url.length
  const query = url.indexOf('?')
  if (query !== -1) end = query
  const hash = url.indexOf('#')
  if (hash !== -1 && hash < end) end = hash
  let start = 0
  if (url.charCodeAt(0) !== 47 /* / */) {
    const scheme = url.indexOf('://')
    if (scheme !== -1 && scheme < end) {
      const slash = url.indexOf('/', scheme + 3)
      start = slash === -1 || slash > end ? end : slash
    }
  }
  return start === 0 && end === url.length ? url : url.slice(start, end) || '/'
}
