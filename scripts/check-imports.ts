/**
 * The import graph of `src/`, checked against the pipeline's direction. Records travel
 *
 *   adapters ─► collect ─► pipeline ─► sinks            agent ─► publishers (in agent/)
 *
 * and a stage may import only what it hands data to, never what feeds it: `collect/` knows nothing of the
 * pipeline, sinks never call back into the batchers, the agent does not import the app-side sinks. The
 * leaves every stage may use are `wire/` (record shape, name rules and every wire format), `redis/` (the
 * connection code shared by the Redis sink and the agent) and `util/`. The root files are the public faces:
 * `index.ts` exports everything, `metrics.ts` joins recording and the pipeline, `options.ts` is configuration.
 *
 * Run: `tsx scripts/check-imports.ts` (part of `npm run lint`); exits 1 and lists every edge against the table.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import ts from 'typescript'

/** What each unit of src/ may import at run time (besides itself). */
export const RUNTIME: Readonly<Record<string, readonly string[]>> = {
  util: [],
  wire: ['util'],
  redis: ['util'],
  collect: ['wire', 'util'],
  sinks: ['wire', 'redis', 'util'],
  options: ['util'],
  pipeline: ['collect', 'sinks', 'wire', 'options', 'util'],
  adapters: ['collect', 'pipeline', 'wire', 'options', 'util'],
  metrics: ['collect', 'pipeline', 'util'],
  agent: ['wire', 'redis', 'util'],
  top: ['wire', 'redis', 'util'],
  cli: ['agent', 'top', 'redis', 'wire', 'util'],
  index: ['*'],
}

/**
 * What each unit may also import as types only: the shape of what it receives from upstream (a sink names the
 * collector-free `MetricRecord` from wire/, options name the `Sink` they accept), which runs no code.
 */
export const TYPES_ONLY: Readonly<Record<string, readonly string[]>> = {
  options: ['collect', 'sinks'],
  pipeline: [],
  adapters: ['sinks'],
}

export interface Edge {
  from: string
  to: string
  /** The importing file, relative to the checked folder's parent. */
  file: string
  typeOnly: boolean
}

/** The unit of a path inside src/: its first folder, or the root file's name without extension. */
export function unitOf(pathInSrc: string): string {
  const [first, ...rest] = pathInSrc.split(sep)
  if (rest.length > 0) return first!
  return first!.replace(/\.m?[jt]s$/, '')
}

/** Every relative import of `file` with whether it brings types only. */
export function importsOf(file: string, text: string): Array<{ spec: string, typeOnly: boolean }> {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false)
  const found: Array<{ spec: string, typeOnly: boolean }> = []
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause
      const named = clause?.namedBindings
      const allTypes = clause !== undefined && (clause.isTypeOnly || (clause.name === undefined && named !== undefined &&
        ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)))
      found.push({ spec: node.moduleSpecifier.text, typeOnly: allTypes })
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.exportClause
      const allTypes = node.isTypeOnly || (clause !== undefined && ts.isNamedExports(clause) && clause.elements.every((e) => e.isTypeOnly))
      found.push({ spec: node.moduleSpecifier.text, typeOnly: allTypes })
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments
      if (arg !== undefined && ts.isStringLiteral(arg)) found.push({ spec: arg.text, typeOnly: false })
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ spec: node.argument.literal.text, typeOnly: true })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found.filter((i) => i.spec.startsWith('.'))
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return /\.m?ts$/.test(name) && !name.endsWith('.d.ts') ? [path] : []
  })
}

/**
 * The edges of `srcDir`'s import graph that the tables do not allow (an import of a unit not in the table
 * counts too, so a new folder has to be placed in the pipeline before it can be used).
 *
 * @example
 * checkImports('src') // [] when the graph follows the pipeline
 */
export function checkImports(srcDir: string): Edge[] {
  const root = resolve(srcDir)
  const wrong: Edge[] = []
  for (const file of sourceFiles(root)) {
    const from = unitOf(relative(root, file))
    for (const { spec, typeOnly } of importsOf(file, readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec)
      const inside = relative(root, target)
      if (inside.startsWith('..')) {
        wrong.push({ from, to: `outside src (${spec})`, file: relative(dirname(root), file), typeOnly })
        continue
      }
      const to = unitOf(inside)
      if (to === from) continue
      const runtime = RUNTIME[from] ?? []
      const allowed = runtime.includes('*') || runtime.includes(to) || (typeOnly && (TYPES_ONLY[from] ?? []).includes(to))
      if (!allowed) wrong.push({ from, to, file: relative(dirname(root), file), typeOnly })
    }
  }
  return wrong
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(__filename)) {
  const dir = process.argv[2] ?? join(__dirname, '..', 'src')
  const wrong = checkImports(dir)
  for (const e of wrong) {
    console.error(`${e.file}: ${e.from} imports ${e.to}${e.typeOnly ? ' (types)' : ''}, against the pipeline's direction`)
  }
  if (wrong.length > 0) process.exit(1)
  console.log(`imports: ${sourceFiles(resolve(dir)).length} files follow the pipeline's direction`)
}
