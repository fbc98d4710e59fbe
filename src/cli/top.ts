/**
 * `routemeter top`: parses the command line, then either prints one snapshot (`--once`, `--json`) or runs the
 * live screen on a reader that follows the stream. Exit codes: 0 after `q` or a printed snapshot, 1 when `--once`
 * cannot reach Redis, 2 for bad arguments, 130/143/129 after SIGINT/SIGTERM/SIGHUP.
 */
import { useColour } from '../top/ansi.js'
import { formatJson, formatTable } from '../top/once.js'
import { readTopOnce, startTopReader } from '../top/reader.js'
import { UsageError } from './flags.js'
import { parseTopArgs, TOP_HELP, type TopRun } from './top-args.js'
import { TopWindow } from '../top/window.js'

/** Where the command reads and writes: the process's own streams, or a test's. */
export interface TopIo {
  readonly stdout: NodeJS.WriteStream
  readonly stderr: NodeJS.WritableStream
  readonly stdin: NodeJS.ReadStream
  readonly env: NodeJS.ProcessEnv
}

/** How long `--once` waits for Redis before it gives up: long enough for a Sentinel lookup or a TLS handshake. */
const ONCE_TIMEOUT_MS = 5000

const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 }

/**
 * Runs `routemeter top` with `argv` (after `top`); resolves with the exit code.
 *
 * @example
 * process.exitCode = await runTop(process.argv.slice(3))
 */
export async function runTop(argv: readonly string[], io: TopIo = process): Promise<number> {
  let command
  try { command = parseTopArgs(argv, io.env) } catch (error) {
    if (!(error instanceof UsageError)) throw error
    io.stderr.write(`routemeter top: ${error.message}\nRun \`routemeter top --help\` for the options.\n`)
    return 2
  }
  if (command.help) { io.stdout.write(TOP_HELP); return 0 }
  if (command.once) return await once(command, io)
  // The live screen into a pipe or a file wrote its escape codes there, redrawn every second, until killed: what
  // `routemeter top | head` or `> file` wants is the table, once.
  if (io.stdout.isTTY !== true) {
    io.stderr.write('routemeter top: stdout is not a terminal: printing one snapshot, as --once does\n')
    return await once(command, io)
  }
  return await live(command, io)
}

async function once(command: TopRun, io: TopIo): Promise<number> {
  const window = new TopWindow({ windowMs: command.windowMs })
  let snapshot
  try {
    snapshot = await readTopOnce({ ...command, window, timeoutMs: ONCE_TIMEOUT_MS }, command.sort)
  } catch (error) {
    io.stderr.write(`routemeter top: cannot read ${command.stream} from Redis at ${command.target.safe}: ${(error as Error).message}\n`)
    return 1
  }
  const tty = io.stdout.isTTY
  io.stdout.write(command.json
    ? formatJson(snapshot)
    : formatTable(snapshot, { colour: useColour(io.stdout, io.env), width: tty ? io.stdout.columns : undefined }))
  return 0
}

async function live(command: TopRun, io: TopIo): Promise<number> {
  // Loaded here, not at the top: `--once` (scripts, cron) never needs the screen's code.
  const { runScreen } = await import('../top/screen.js')
  const window = new TopWindow({ windowMs: command.windowMs })
  const reader = startTopReader({ ...command, window })
  try {
    const end = await runScreen({
      snapshot: (sort, filter) => reader.snapshot(sort, filter), stdin: io.stdin, stdout: io.stdout, sort: command.sort, env: io.env,
    })
    return SIGNAL_EXIT[end] ?? 0
  } finally {
    await reader.stop()
  }
}
