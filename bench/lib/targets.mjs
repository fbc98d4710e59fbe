// The targets of issue 4, checked against the rows of one run. Each result says met or missed and by how
// much, so a miss is a number, not a feeling.
import { PEERS } from '../contenders.mjs'

const fmt = (x) => x.toFixed(2)

export function checkTargets(rows) {
  const row = (server, route) => rows.find((r) => r.server === server && r.route === route)
  const results = []
  const floor = row('floor', 'tiny')

  const ratio = (server, factor) => {
    const r = row(server, 'tiny')
    if (!r || !floor) return
    if (floor.addedUsPerReq <= 0) {
      // A ratio to a floor the noise swallowed means nothing: say so instead of printing a negative limit.
      results.push({
        target: `${server} adds ≤ ${factor}× the floor's added CPU on tiny`,
        met: null,
        detail: `not decidable in this run: the floor's added CPU (${fmt(floor.addedUsPerReq)} µs, ` +
          `range ${floor.addedUsPerReqRange.map(fmt).join('…')}) is lost in the noise; ${server} adds ${fmt(r.addedUsPerReq)} µs`,
      })
      return
    }
    const limit = factor * floor.addedUsPerReq
    results.push({
      target: `${server} adds ≤ ${factor}× the floor's added CPU on tiny`,
      met: r.addedUsPerReq <= limit,
      detail: `${fmt(r.addedUsPerReq)} µs vs limit ${factor} × ${fmt(floor.addedUsPerReq)} = ${fmt(limit)} µs` +
        ` (${r.addedUsPerReq <= limit ? 'under' : 'over'} by ${fmt(Math.abs(limit - r.addedUsPerReq))} µs; ` +
        `${fmt(r.addedUsPerReq / floor.addedUsPerReq)}× the floor)`,
    })
  }
  ratio('rm-memory', 1.25)
  ratio('rm-redis', 1.5)

  const peers = PEERS.map((p) => row(p, 'tiny')).filter(Boolean)
  for (const server of ['rm-memory', 'rm-redis', 'rm-statsd']) {
    const r = row(server, 'tiny')
    if (!r || peers.length === 0) continue
    const cheapest = peers.reduce((a, b) => (a.addedUsPerReq <= b.addedUsPerReq ? a : b))
    results.push({
      target: `${server} adds less CPU than every peer on tiny`,
      met: r.addedUsPerReq < cheapest.addedUsPerReq,
      detail: `${fmt(r.addedUsPerReq)} µs vs cheapest peer ${cheapest.server} ${fmt(cheapest.addedUsPerReq)} µs` +
        ` (margin ${fmt(cheapest.addedUsPerReq - r.addedUsPerReq)} µs)`,
    })
  }

  // The async routes: json (3 awaits) and await20 (20 awaits), where a per-reaction cost would show.
  for (const route of ['json', 'await20']) {
    const bareRow = row('bare', route)
    for (const server of ['rm-memory', 'rm-redis']) {
      const r = row(server, route)
      if (!r || !bareRow) continue
      const share = r.addedUsPerReq / bareRow.cpuUsPerReq
      results.push({
        target: `${server} adds < 5% of bare's CPU on ${route}`,
        met: share < 0.05,
        detail: `${fmt(r.addedUsPerReq)} µs of ${fmt(bareRow.cpuUsPerReq)} µs = ${(share * 100).toFixed(1)}%` +
          ` (limit ${fmt(0.05 * bareRow.cpuUsPerReq)} µs)`,
      })
    }
  }
  return results
}
