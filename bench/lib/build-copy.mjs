// A copy of a build with some of its compiled lines rewritten, which loads like dist/: it sits in a temporary
// folder with the repository's package.json and a link to its node_modules. The scaled clock of
// instructions.mjs (scaled-clock.mjs) and the clock ablations of the paired rows (clock-ablation.mjs) are such
// copies. Each edit names the compiled line it rewrites and must find it exactly once, so a change to the source
// that moves or renames it stops the bench instead of measuring an unedited build.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/**
 * Copies the build in `dist` into a new temporary folder named `prefix…`, applying each edit (`line` a RegExp
 * with the `m` flag, `replace` what String.replace takes for it). Returns the copy's dist folder. Throws, and
 * leaves nothing behind, when an edit's line is not found exactly once.
 *
 * @example
 * const copy = patchedBuild(DIST, [{ file: 'collect/gc-refund.js', line: /^exports\.MIN_KEPT_MS = ([\d.]+);$/m,
 *   replace: (whole, value) => whole.replace(value, String(value * 10)) }], 'routemeter-scaled-clock-')
 */
export function patchedBuild(dist, edits, prefix) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  try {
    const copy = path.join(root, 'dist')
    fs.cpSync(dist, copy, { recursive: true })
    const repo = path.dirname(dist)
    fs.copyFileSync(path.join(repo, 'package.json'), path.join(root, 'package.json'))
    fs.symlinkSync(path.join(repo, 'node_modules'), path.join(root, 'node_modules'))
    for (const { file, line, replace } of edits) {
      const target = path.join(copy, file)
      const text = fs.readFileSync(target, 'utf8')
      const found = text.match(new RegExp(line.source, 'gm')) ?? []
      if (found.length !== 1) throw new Error(`${file}: expected one line matching ${line}, found ${found.length}`)
      fs.writeFileSync(target, text.replace(line, replace))
    }
    return copy
  } catch (error) {
    fs.rmSync(root, { recursive: true, force: true })
    throw error
  }
}
