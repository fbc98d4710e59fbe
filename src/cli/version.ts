/** The version of the installed routemeter package, for `routemeter --version`. */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/**
 * The `version` of the nearest `package.json` named `routemeter` at or above `fromDir` (default: this
 * file's directory). Read at run time, not compiled in: `dist/cli/` in an installed package and `src/cli/`
 * in this repository both find the package's own file, never the app's. `unknown` if there is none.
 *
 * @example
 * packageVersion() // '0.1.0'
 */
export function packageVersion(fromDir: string = __dirname): string {
  let dir = fromDir
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown, version?: unknown }
      if (pkg.name === 'routemeter' && typeof pkg.version === 'string') return pkg.version
    } catch { /* no package.json here, or not JSON: keep climbing */ }
    const parent = dirname(dir)
    if (parent === dir) return 'unknown'
    dir = parent
  }
}
