#!/usr/bin/env node
/**
 * The `routemeter` command: `agent` (see `routemeter agent --help`) and `top` (`routemeter top --help`).
 * Exit codes: 0 once the agent stopped on SIGINT/SIGTERM (what it could not drain by `--drain-timeout-ms` stays
 * pending in Redis for the next agent), 1 on a second signal, a failed stop or start, or when the last-resort
 * timer fires (stop() is bounded by the drain timeout plus 1 s; the timer waits 10 s past the drain), 2 for bad
 * arguments.
 */
import { startAgent, type Agent } from '../agent/agent.js'
import type { PrometheusPublisher } from '../agent/prometheus-publisher.js'
import { AGENT_HELP, parseAgentArgs, type AgentCommand } from './agent-args.js'
import { UsageError } from './flags.js'
import { statusLine } from './status-line.js'
import { logLine } from './log-line.js'
import { packageVersion } from './version.js'
import { runTop } from './top.js'

const MAIN_HELP = `Usage: routemeter <command> [options]

Commands:
  agent    move metrics from Redis to InfluxDB / StatsD / console (routemeter agent --help)
  top      a live per-route view of the stream (routemeter top --help)

Options:
  -v, --version  print the version
  -h, --help     show this help
`

const log = (message: string): void => { process.stderr.write(logLine(message)) }

function main(argv: string[]): void {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(MAIN_HELP)
    process.exitCode = command === undefined ? 2 : 0
    return
  }
  if (command === '--version' || command === '-v') { process.stdout.write(`${packageVersion()}\n`); return }
  if (command === 'top') {
    void runTop(rest).then((code) => { process.exitCode = code })
    return
  }
  if (command !== 'agent') {
    process.stderr.write(`routemeter: unknown command ${JSON.stringify(command)}\n\n${MAIN_HELP}`)
    process.exitCode = 2
    return
  }
  let parsed
  try { parsed = parseAgentArgs(rest, process.env, (error) => log(error.message)) } catch (error) {
    if (!(error instanceof UsageError)) throw error
    usage(error)
    return
  }
  if (parsed.help) { process.stdout.write(AGENT_HELP); return }
  if (parsed.version) { process.stdout.write(`${packageVersion()}\n`); return }
  const agentCommand = parsed
  // A --prometheus port that cannot be bound stops the agent before it reads, and acks, anything: the
  // publisher's onError has logged why (port in use).
  const listening = agentCommand.publishers.map((p) => (p as Partial<PrometheusPublisher>).listening).filter((l) => l !== undefined)
  Promise.all(listening).then(() => run(agentCommand), () => {
    process.exitCode = 1
    void Promise.all(agentCommand.publishers.map(async (p) => await p.close()))
  })
}

function usage(error: UsageError): void {
  process.stderr.write(`routemeter agent: ${error.message}\nRun \`routemeter agent --help\` for the options.\n`)
  process.exitCode = 2
}

function run(parsed: AgentCommand): void {
  // The log goes to stderr, which `2>&1 | head` closes with stdout: a log line must not crash the agent, and
  // there is nowhere left to say so.
  process.stderr.on('error', () => {})
  let agent: Agent
  try {
    agent = startAgent({ ...parsed.options, publishers: parsed.publishers, onError: (error) => log(error.message) })
  } catch (error) {
    // An option startAgent refuses (an empty --stream) is the user's mistake like any other: named by its flag, exit 2.
    const mistake = parsed.optionError(error)
    if (mistake === undefined) throw error
    usage(mistake)
    void Promise.all(parsed.publishers.map(async (p) => await p.close()))
    return
  }
  log(`starting: ${parsed.describe.join(', ')}`)
  void agent.ready.then(() => log('connected; reading'), () => {})

  let status: NodeJS.Timeout | undefined
  if (parsed.statusIntervalMs > 0) {
    let previous = agent.stats()
    let at = Date.now()
    status = setInterval(() => {
      const now = agent.stats()
      log(statusLine(previous, now, Date.now() - at))
      previous = now
      at = Date.now()
    }, parsed.statusIntervalMs)
  }

  let stopping = false
  const drainTimeoutMs = parsed.options.drainTimeoutMs ?? 10_000
  const shutdown = (signal: string): void => {
    if (stopping) { log(`${signal} again: exiting without draining`); process.exit(1) }
    stopping = true
    log(`${signal}: draining (up to ${drainTimeoutMs} ms)`)
    if (status !== undefined) clearInterval(status)
    // Belt and braces: stop() is bounded, but never let a stuck close keep the process alive.
    setTimeout(() => { log('drain deadline passed; exiting'); process.exit(1) }, drainTimeoutMs + 10_000).unref()
    agent.stop().then(() => {
      const s = agent.stats()
      log(`stopped: ${s.entries} entries, ${s.requests} requests published, ${s.deadLettered} dead-lettered`)
      process.exit(0)
    }, (error: unknown) => { log(`stop failed: ${String(error)}`); process.exit(1) })
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  // `routemeter agent --console | head`: once the reader is gone every write to stdout fails with EPIPE, and
  // unhandled that 'error' ended the agent with a stack trace. The console publisher refuses (retryably) what
  // it could not show, so those entries stay unacked: stopping as on SIGTERM loses nothing.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    // Every later write fails the same way: one shutdown, not the "again: exit without draining" of a signal.
    if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') log(`stdout: ${error.message}`)
    else if (!stopping) shutdown('stdout closed')
  })
}

main(process.argv.slice(2))
