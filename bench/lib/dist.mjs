// Where the bench finds the compiled library. Default: the repository's dist/ (what `npm run bench` builds).
// ROUTEMETER_BENCH_DIST points at another build (a private `tsc --outDir`, so a bench never rewrites the
// shared dist/); ROUTEMETER_BENCH_DIST_BEFORE adds the `…-before` rows, an older build measured in the same
// run, interleaved with the current one, so "before" and "after" share every noisy minute of the machine.
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ABLATIONS, ablatedBuild } from './clock-ablation.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))

export const DIST = path.resolve(process.env.ROUTEMETER_BENCH_DIST ?? path.join(here, '..', '..', 'dist'))
export const DIST_BEFORE = process.env.ROUTEMETER_BENCH_DIST_BEFORE ? path.resolve(process.env.ROUTEMETER_BENCH_DIST_BEFORE) : null

/**
 * The entry file URL of the build a contender uses: `dist: 'before'` for the older build, the name of a clock
 * ablation (lib/clock-ablation.mjs) for a copy of DIST with it applied.
 */
export function distEntry(which) {
  let dir = DIST
  if (which === 'before') {
    if (DIST_BEFORE === null) throw new Error('the …-before contenders need ROUTEMETER_BENCH_DIST_BEFORE')
    dir = DIST_BEFORE
  } else if (which !== undefined && Object.hasOwn(ABLATIONS, which)) {
    dir = ablatedBuild(DIST, which)
  }
  return pathToFileURL(path.join(dir, 'index.js')).href
}
