// Copies of a build whose attributed clock has parts taken out, so that a paired run can price each part next to
// the default (contenders `rm-discard-noidle` and `rm-discard-noreads`, `dist: '<ablation>'`):
//
//   no-idle   the switches do not read libuv's idle time: `switchTo`, `enter` and `close` pass the last switch's
//             reading where they read `performance.nodeTiming.idleTime`. Waits in epoll are billed as holds.
//   no-reads  no-idle, and `switchTo` and `switchBack` do not read `performance.now()` either: they pass the last
//             switch's time plus 0.1 µs, and every hold is capped at 0.1 µs, so that no guard read or kept stretch
//             follows from the request's own start and end (still read, for RequestTime). CpuTime means nothing
//             here; what the build costs is the point.
//
// The default minus no-reads is what the clock's reads cost a request; the default minus no-idle, the idle reads.
// Each server of a run asks for its copy (lib/dist.mjs); the first builds it, under a name made from the build's
// contents and this file's, and the others, and later runs, reuse it (in the system's temporary folder).
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { patchedBuild } from './build-copy.mjs'

const FILE = 'collect/cpu-attributed.js'
const TICK = '0.0001'

/** An edit of the one line of the compiled clock that reads `from` (indentation aside) into `to`. */
function rewrite(from, to) {
  const escaped = from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return { file: FILE, line: new RegExp(`^(\\s*)${escaped}$`, 'm'), replace: (whole, indent) => indent + to }
}

const enterWithoutIdle = rewrite('return c === current ? c : switchAt(c, loop.idleTime, c.start);',
  'return c === current ? c : switchAt(c, at.idleSince, c.start);')
const closeWithoutIdle = rewrite('switchAt(c.blocks === 0 ? OUTSIDE : c, loop.idleTime, c.end);',
  'switchAt(c.blocks === 0 ? OUTSIDE : c, at.idleSince, c.end);')
const SWITCH_TO = 'return next === current ? next : switchAt(next, loop.idleTime, node_perf_hooks_1.performance.now());'

/** The edits of each ablation, by the name a contender gives as `dist`. */
export const ABLATIONS = {
  'no-idle': [
    rewrite(SWITCH_TO, 'return next === current ? next : switchAt(next, at.idleSince, node_perf_hooks_1.performance.now());'),
    enterWithoutIdle,
    closeWithoutIdle,
  ],
  'no-reads': [
    rewrite(SWITCH_TO, `return next === current ? next : switchAt(next, at.idleSince, at.since + ${TICK});`),
    rewrite('switchAt(next, at.idleSince, node_perf_hooks_1.performance.now());', `switchAt(next, at.idleSince, at.since + ${TICK});`),
    rewrite('let held = onThread;', `let held = Math.min(onThread, ${TICK});`),
    enterWithoutIdle,
    closeWithoutIdle,
  ],
}

/** A digest of every file under `dir`, by relative path and contents. */
function digestOf(dir, hash = crypto.createHash('sha256'), base = dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) digestOf(full, hash, base)
    else hash.update(path.relative(base, full)).update('\0').update(fs.readFileSync(full)).update('\0')
  }
  return hash
}

/**
 * The dist folder of the build in `dist` with the ablation `name` applied, built on first use. Throws on an
 * unknown name, or when an edit's line is not in the build (the clock's source changed: update ABLATIONS).
 *
 * @example
 * const entry = path.join(ablatedBuild(DIST, 'no-reads'), 'index.js')
 */
export function ablatedBuild(dist, name) {
  const edits = Object.hasOwn(ABLATIONS, name) ? ABLATIONS[name] : undefined
  if (edits === undefined) throw new Error(`unknown clock ablation ${name}; known: ${Object.keys(ABLATIONS).join(', ')}`)
  const hash = digestOf(dist)
  hash.update(fs.readFileSync(fileURLToPath(import.meta.url))) // the edits
  const home = path.join(os.tmpdir(), `routemeter-ablation-${name}-${hash.digest('hex').slice(0, 16)}`)
  if (fs.existsSync(path.join(home, 'dist'))) return path.join(home, 'dist')
  const copy = patchedBuild(dist, edits, `routemeter-ablation-${name}-tmp-`)
  try {
    fs.renameSync(path.dirname(copy), home)
  } catch (error) {
    // Another server of the run built it first: theirs is the same.
    fs.rmSync(path.dirname(copy), { recursive: true, force: true })
    if (!fs.existsSync(path.join(home, 'dist'))) throw error
  }
  return path.join(home, 'dist')
}
