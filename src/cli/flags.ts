import { parseArgs, type ParseArgsConfig } from 'node:util'

/** Bad arguments: the CLI prints the message with the command's help hint and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

type FlagValues = Record<string, string | boolean | undefined>

/**
 * The flags of one subcommand, strictly (no positionals, no unknown flags). Node's own error becomes a
 * {@link UsageError}, without its advice on positionals, which no subcommand takes.
 *
 * @example
 * const values = parseFlags(argv, { stream: { type: 'string' }, help: { type: 'boolean', short: 'h' } })
 */
export function parseFlags(argv: readonly string[], options: NonNullable<ParseArgsConfig['options']>): FlagValues {
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals: false, options }).values as FlagValues
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''))
  }
}
