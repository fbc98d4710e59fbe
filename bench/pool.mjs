// Pools the paired windows of several bench/paired.mjs runs (their --out JSON files) and reports, per
// contender and route, the median added µs per request over all of them with its 95 % confidence interval,
// and that as a share of the base's CPU. One run of 60 windows on these shared VMs leaves the median of a
// json-route difference uncertain by several µs (its interval, printed by paired.mjs); runs on different
// days pool into one estimate instead of a list of medians to argue over.
//
//   node bench/pool.mjs bench/results/a.json bench/results/b.json [...]
//
// Only runs of the same Node major pool: CPU per request differs between versions. The base's CPU, the
// denominator of the share, is the median of the runs' own medians, weighted by their windows.
import fs from 'node:fs'
import { median, medianInterval } from './lib/stats.mjs'

const files = process.argv.slice(2)
if (files.length === 0) {
  console.error('usage: node bench/pool.mjs <paired.mjs --out file> [...]')
  process.exit(2)
}
const runs = files.map((f) => ({ file: f, ...JSON.parse(fs.readFileSync(f, 'utf8')) }))
const majors = new Set(runs.map((r) => r.node.split('.')[0]))
if (majors.size > 1) {
  console.error(`runs from different Node majors (${[...majors].join(', ')}): pool each on its own`)
  process.exit(2)
}

const pooled = new Map()
for (const run of runs) {
  for (const row of run.rows) {
    if (row.server === row.base) continue
    if (row.addedUsPerReqWindows === undefined) {
      console.error(`${run.file}: no windows kept (written before paired.mjs kept them), left out`)
      continue
    }
    const key = `${row.server}|${row.route}`
    if (!pooled.has(key)) pooled.set(key, { server: row.server, base: row.base, route: row.route, added: [], baseCpu: [] })
    const p = pooled.get(key)
    p.added.push(...row.addedUsPerReqWindows)
    for (let i = 0; i < row.windows; i++) p.baseCpu.push(row.baseCpuUsPerReq)
  }
}

const f = (x) => (x > 0 ? '+' : '') + x.toFixed(1)
const pct = (x) => `${(x * 100).toFixed(1)}%`
console.log(`${runs.length} runs on Node ${runs.map((r) => r.node).join(', ')}\n`)
console.log('| server | base | route | windows | added µs/req, median | 95 % CI | added / base [95 % CI] |')
console.log('|---|---|---|--:|--:|--:|--:|')
for (const p of pooled.values()) {
  const added = median(p.added)
  const [lo, hi] = medianInterval(p.added)
  const base = median(p.baseCpu)
  console.log(`| ${p.server} | ${p.base} | ${p.route} | ${p.added.length} | ${f(added)} | ${f(lo)}…${f(hi)} | ` +
    `${pct(added / base)} [${pct(lo / base)}…${pct(hi / base)}] |`)
}
