import type { DecodedGroup } from './stream-encoding.js'

/**
 * An integer index into a table of `size` entries: what every reference in a stream entry must be.
 *
 * @example
 * if (!isIndex(row[0], groups.length)) throw malformed('bad row group')
 */
export function isIndex(x: unknown, size: number): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < size
}

/** What both stream versions put first in a group: kind, prefix, route, method and dimension set. */
export type GroupHead = Pick<DecodedGroup, 'kind' | 'prefix' | 'route' | 'method' | 'dimensions'>

/**
 * Reads and checks the five-number head of the group at `g[i]` (v=1 groups are only that; v=2 groups go on
 * with status, aborted and record count). Throws `malformed(…)` on a bad kind or index.
 *
 * @example
 * const head = readGroupHead(g, i, strings, dims, malformed) // { kind: 'request', route: 'users.id', … }
 */
export function readGroupHead(
  g: readonly unknown[], i: number, strings: readonly string[], dims: ReadonlyArray<Readonly<Record<string, string>>>,
  malformed: (message: string) => Error,
): GroupHead {
  const kind = g[i]
  if (kind !== 0 && kind !== 1) throw malformed('bad group kind')
  const prefix = g[i + 1]
  const route = g[i + 2]
  const method = g[i + 3]
  if (!isIndex(prefix, strings.length) || !isIndex(route, strings.length) || !isIndex(method, strings.length)) {
    throw malformed('bad group string index')
  }
  const dimensions = g[i + 4]
  if (!isIndex(dimensions, dims.length)) throw malformed('bad group dimension index')
  return {
    kind: kind === 1 ? 'process' : 'request',
    prefix: strings[prefix],
    route: strings[route],
    method: strings[method],
    dimensions: dims[dimensions],
  }
}
