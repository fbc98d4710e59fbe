/**
 * Every package the built code loads must be one that users install. A devDependency imported by `dist/`
 * loads fine from the repo (where devDependencies are installed) and crashes from the published tarball:
 * that is how `undici` once broke `require('routemeter')`. This reads what `dist/` requires or imports,
 * eagerly or lazily, so the mistake fails here before it can ship.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join, relative } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

const root = join(__dirname, '..', '..')
interface Manifest {
  name: string
  dependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest
const installed = new Set([
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.optionalDependencies ?? {}),
  ...Object.keys(pkg.peerDependencies ?? {}),
])

/** `require('x')`, `import('x')`, `from 'x'` and `import 'x'`: what tsc emits for every form of import. */
const SPECIFIER = /(?:\brequire\(\s*|\bimport\(\s*|\bfrom\s+|\bimport\s+)(['"])([^'"]+)\1/g

/** The code without its comments: a JSDoc `@example` that imports a framework loads nothing. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
}

function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!
  return builtinModules.includes(name) ? undefined : name
}

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return jsFiles(path)
    return /\.(c|m)?js$/.test(e.name) ? [path] : []
  })
}

test('the specifier scan finds each form of import tsc emits', () => {
  const sample = `const a = require("hot-shots"); const b = await import('@redis/client/dist/x'); import c from 'redis'
    import 'path-to-regexp'; const d = require('./local.js'); const e = require("node:fs"); const f = require('fs')
    /**
     * @example
     * import Fastify from 'fastify'
     */
    // const g = require('koa')`
  const found = [...code(sample).matchAll(SPECIFIER)].map((m) => packageOf(m[2]!)).filter((n) => n !== undefined)
  assert.equal(found, ['hot-shots', '@redis/client', 'redis', 'path-to-regexp'])
})

test('every package dist/ loads is a dependency, optional dependency or peer dependency', () => {
  const files = jsFiles(join(root, 'dist'))
  assert.ok(files.length > 10, `dist/ holds the build (${files.length} files; run npm run build)`)
  const undeclared: string[] = []
  for (const file of files) {
    for (const match of code(readFileSync(file, 'utf8')).matchAll(SPECIFIER)) {
      const name = packageOf(match[2]!)
      if (name !== undefined && name !== pkg.name && !installed.has(name)) undeclared.push(`${name} (${relative(root, file)})`)
    }
  }
  assert.equal(undeclared, [], `users installing the package would not have: ${undeclared.join(', ')}`)
})

test.run()
