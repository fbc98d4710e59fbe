/** The CLI's stderr log format. */

/**
 * One log line: `<ISO time> routemeter agent: <message>`. Messages from the library already carry their
 * component's prefix (`routemeter agent: `, `routemeter influx: `), which is kept instead of adding ours
 * in front of it: the CLI is the one place that adds a prefix, and only where there is none.
 *
 * @example
 * logLine('connected; reading') // '2026-11-22T08:00:00.000Z routemeter agent: connected; reading\n'
 * logLine('routemeter agent: influx: recovered after 3 failed attempts') // no second prefix
 */
export function logLine(message: string, now: Date = new Date()): string {
  const prefixed = /^routemeter\b/.test(message) ? message : `routemeter agent: ${message}`
  return `${now.toISOString()} ${prefixed}\n`
}
