// Profiles one contender's server under the bench's load and prints where its CPU goes.
//
//   node bench/profile.mjs rm-memory [--route tiny] [--seconds 6] [--top 20] [--connections 64]
//
// The server runs with `node --cpu-prof` (pinned like in the bench), is warmed up, loaded for `seconds`,
// then exits so V8 writes the profile. Printed: the top self-time frames overall, then the top frames and
// hottest lines inside routemeter's compiled code, mapped back to src/*.ts through dist's source maps.
// The .cpuprofile is kept (path printed) for Chrome DevTools or speedscope.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SourceMap } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { CONTENDERS } from './contenders.mjs'
import { spawnNode, ask, killAll, cpuPlan, pinSelf } from './lib/child.mjs'
import { statsdReceiver, startRedis } from './lib/receivers.mjs'
import { DIST } from './lib/dist.mjs'
import { spawnLoad, startLoad } from './lib/load-run.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const dist = DIST
const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    route: { type: 'string', default: 'tiny' },
    seconds: { type: 'string', default: '6' },
    top: { type: 'string', default: '20' },
    connections: { type: 'string', default: '64' },
  },
})
const name = positionals[0] ?? 'rm-memory'
const spec = CONTENDERS.find((c) => c.name === name)
if (!spec) throw new Error(`unknown contender ${name}; one of ${CONTENDERS.map((c) => c.name).join(', ')}`)

async function drive(load, port, seconds) {
  const run = await startLoad(load, { port, route: args.route, connections: Number(args.connections) })
  await sleep(seconds * 1000)
  return run.finish()
}

const CLOCKS = new Set(['cpuUsage', 'now', 'hrtime', 'bigint', 'resourceUsage'])
const sourceMaps = new Map()
function original(url, line, column) {
  // line and column are 0-based, as in .cpuprofile call frames
  if (!url.startsWith(pathToFileURL(dist).href)) return null
  const file = fileURLToPath(url)
  if (!sourceMaps.has(file)) {
    try { sourceMaps.set(file, new SourceMap(JSON.parse(fs.readFileSync(file + '.map', 'utf8')))) } catch { sourceMaps.set(file, null) }
  }
  const map = sourceMaps.get(file)
  const entry = map?.findEntry(line, Math.max(0, column))
  if (!entry || !entry.originalSource) return null
  const source = entry.originalSource.startsWith('file:')
    ? fileURLToPath(entry.originalSource)
    : path.resolve(path.dirname(file), entry.originalSource)
  return `${path.relative(path.join(here, '..'), source)}:${entry.originalLine + 1}`
}

function where({ url, lineNumber, columnNumber }) {
  if (!url) return '(native)'
  return original(url, lineNumber, columnNumber) ??
    `${url.replace(/^file:\/\//, '').replace(path.join(here, '..') + '/', '')}:${lineNumber + 1}`
}

function summarise(profile, top) {
  const total = profile.endTime - profile.startTime
  const self = new Map() // node id → µs
  for (let i = 0; i < profile.samples.length; i++) {
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const byFrame = new Map()
  const lines = new Map()
  let inLibrary = 0
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0
    if (us === 0) continue
    const f = node.callFrame
    const key = `${f.functionName || '(anonymous)'} ${where(f)}`
    const isLib = f.url.startsWith(pathToFileURL(dist).href)
    const entry = byFrame.get(key) ?? { key, us: 0, isLib }
    entry.us += us
    byFrame.set(key, entry)
    if (isLib) {
      inLibrary += us
      // positionTicks: hits per source line of this function (1-based lines in the compiled file)
      const ticks = node.positionTicks ?? []
      const all = ticks.reduce((s, t) => s + t.ticks, 0)
      for (const t of ticks) {
        const at = original(f.url, t.line - 1, 0) ?? `${path.basename(f.url)}:${t.line}`
        lines.set(at, (lines.get(at) ?? 0) + us * (t.ticks / all))
      }
    }
  }
  const pct = (us) => `${(100 * us / total).toFixed(1).padStart(5)}%`
  const rows = [...byFrame.values()].sort((a, b) => b.us - a.us)
  console.log(`\nTop ${top} self-time frames (${(total / 1e6).toFixed(1)} s profiled; idle and GC included):`)
  for (const r of rows.slice(0, top)) console.log(`  ${pct(r.us)}  ${r.isLib ? '*' : ' '} ${r.key}`)
  console.log(`\nInside routemeter (dist/ → src/): ${pct(inLibrary).trim()} of the profile`)
  for (const r of rows.filter((r) => r.isLib).slice(0, top)) console.log(`  ${pct(r.us)}  ${r.key}`)
  // Clock and CPU reads are native frames: name their JavaScript callers, which is where the fix goes.
  const parent = new Map()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node)
  const callers = new Map()
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0
    if (us === 0 || !CLOCKS.has(node.callFrame.functionName) || node.callFrame.url) continue
    // climb past Node's own wrappers (process.cpuUsage → native cpuUsage) to the code that asked
    let up = parent.get(node.id)
    while (up && (up.callFrame.url.startsWith('node:') || !up.callFrame.url) && parent.get(up.id)) up = parent.get(up.id)
    const chain = []
    for (let k = 0; up && k < 3; k++, up = parent.get(up.id)) {
      chain.push(`${up.callFrame.functionName || '(anonymous)'} ${where(up.callFrame)}`)
    }
    const key = `${node.callFrame.functionName} ← ${chain.join(' ← ') || '?'}`
    callers.set(key, (callers.get(key) ?? 0) + us)
  }
  console.log('\nNative clock/CPU reads by caller:')
  for (const [key, us] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${key}`)
  console.log('\nHottest routemeter source lines:')
  for (const [at, us] of [...lines].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${at}`)
}

async function main() {
  const plan = cpuPlan()
  if (plan) pinSelf(plan.load)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routemeter-profile-'))
  const redis = spec.needs === 'redis' ? await startRedis({ cpu: plan?.load }) : null
  const udp = spec.needs === 'statsd' ? await statsdReceiver() : null
  const load = await spawnLoad({ cpu: plan?.load })
  const options = { statsdPort: udp?.port, redisUrl: redis?.url, stream: `routemeter-bench:${name}` }
  const server = spawnNode(path.join(here, 'server.mjs'), [name, JSON.stringify(options)], {
    cpu: plan?.server, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
  })
  const { port } = await ask(server, null, 'ready', 60_000, name)
  await drive(load, port, 1.5) // warm-up
  const verdict = await ask(server, { type: 'verify' }, 'verified', 30_000, name)
  if (!verdict.ok) throw new Error(`VERIFY FAILED: ${verdict.detail}`)
  const result = await drive(load, port, Number(args.seconds))
  console.log(`${name} on ${args.route}: ${result.total} requests in ${args.seconds} s of load`)
  const exited = new Promise((resolve) => server.once('exit', resolve))
  server.send({ type: 'exit' })
  await exited
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`)
  console.log(`profile: ${path.join(dir, file)}`)
  summarise(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')), Number(args.top))
  load.kill()
  udp?.close()
  await redis?.close()
}

let code = 0
try { await main() } catch (err) { console.error(err.stack || err.message); code = 1 }
killAll()
process.exit(code)
