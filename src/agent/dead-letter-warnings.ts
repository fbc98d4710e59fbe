/**
 * How the agent warns about entries it moves to the dead-letter stream: the first of each reason at once, then
 * at most one warning per reason a minute, which says how many more went there meanwhile. Before, a reason was
 * warned about once for the agent's life: a second outbreak a day later was silent, and every distinct reason
 * (decode errors name what they choke on) stayed in memory for good.
 */

/** Reasons told apart by their first characters: a count in the tail does not make a new kind. */
const REASON_KEY_LENGTH = 40
/** Reasons remembered at most; past it the one warned longest ago is forgotten (and would warn again at once). */
const MAX_REASONS = 64

/** Notes one dead-lettered entry, at `now` (ms), and warns through `report` when it is time. */
export type DeadLetterWarnings = (id: string, deadStream: string, reason: string, now: number) => void

/**
 * @example
 * const noteDeadLetter = deadLetterWarnings((message) => log.report(message))
 * noteDeadLetter(id, `${stream}:dead`, 'StreamDecodeError: payload is not JSON', Date.now())
 */
export function deadLetterWarnings(report: (message: string) => void, everyMs = 60_000): DeadLetterWarnings {
  /** Per reason: when it was last warned about, and entries dead-lettered for it since. Oldest warning first. */
  const reasons = new Map<string, { at: number, since: number }>()
  return (id, deadStream, reason, now) => {
    const key = reason.slice(0, REASON_KEY_LENGTH)
    const last = reasons.get(key)
    if (last !== undefined && now - last.at < everyMs) {
      last.since++
      return
    }
    const more = last === undefined || last.since === 0 ? '' : ` (and ${last.since} more since the last warning)`
    report(`entry ${id} moved to ${deadStream}: ${reason}${more}`)
    reasons.delete(key) // re-inserted last: the map stays in order of last warning
    if (reasons.size >= MAX_REASONS) reasons.delete(reasons.keys().next().value!)
    reasons.set(key, { at: now, since: 0 })
  }
}
