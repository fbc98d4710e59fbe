/**
 * The live screen of `routemeter top`: takes the terminal (alternate screen, hidden cursor, raw keys), redraws
 * about once a second, on every key and on every resize, and gives the terminal back exactly as it was however
 * it ends.
 *
 *   timer (1 s) ─┐
 *   key ─────────┼─► snapshot(sort, filter) ─► layout(…, width, height) ─► one write of the changed frame
 *   resize ──────┘
 *
 * Ends: `q` or Ctrl-C resolve `'quit'`; SIGINT, SIGTERM or SIGHUP resolve with the signal's name (the caller
 * closes its connections and exits); an error thrown while drawing rejects. Each restores the terminal first,
 * and so does the process exiting, an uncaught exception elsewhere included: Node emits 'exit' before it prints
 * the error, so the stack lands on the normal screen, not the discarded alternate one (tested under tmux).
 *
 * A frame costs one `snapshot()` call (the data side sorts once) and formats only the rows that fit, so the
 * redraw is the same few kilobytes with 30 routes or 30,000; an unchanged frame is not written at all.
 */
import { StringDecoder } from 'node:string_decoder'
import {
  ALT_SCREEN_OFF, ALT_SCREEN_ON, CLEAR_LINE_END, CLEAR_SCREEN_END, HIDE_CURSOR, HOME, SHOW_CURSOR, useColour, WRAP_OFF, WRAP_ON,
} from './ansi.js'
import { activeFilter, initialKeys, press, splitKeys, type KeyState } from './keys.js'
import { layout } from './layout.js'
import type { Snapshot, SortKey } from './snapshot.js'

/** What the screen reads keys from: `process.stdin`, or a `tty.ReadStream`. */
export interface ScreenInput {
  readonly isTTY?: boolean
  setRawMode?(raw: boolean): unknown
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown
  off(event: 'data', listener: (chunk: Buffer | string) => void): unknown
  resume(): unknown
  pause(): unknown
}

/** What the screen draws on: `process.stdout`, or a `tty.WriteStream`. */
export interface ScreenOutput {
  readonly isTTY?: boolean
  readonly columns?: number
  readonly rows?: number
  write(text: string): unknown
  on(event: 'resize' | 'error', listener: (error?: Error) => void): unknown
  off(event: 'resize' | 'error', listener: (error?: Error) => void): unknown
}

export interface ScreenOptions {
  /**
   * The view now, its routes in `sort` order. Called once per frame. The screen applies `filter` (a
   * case-insensitive substring of the route) itself too, so a source may ignore it.
   */
  readonly snapshot: (sort: SortKey, filter: string) => Snapshot
  /** Default `process.stdin`. */
  readonly stdin?: ScreenInput
  /** Default `process.stdout`. */
  readonly stdout?: ScreenOutput
  /** The first sort (`--sort`); default `'rps'`. */
  readonly sort?: SortKey
  /** Between timed redraws; default 1000 ms. */
  readonly intervalMs?: number
  /** Read for `NO_COLOR`; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
}

/** How the screen ended: the user quit, or the process got a signal. */
export type ScreenEnd = 'quit' | 'SIGINT' | 'SIGTERM' | 'SIGHUP'

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
const CLEAR_ALL = '\x1b[2J'

/**
 * Runs the live screen until `q`, Ctrl-C or a signal; resolves once the terminal is restored.
 *
 * @example
 * const end = await runScreen({ snapshot: (sort, filter) => window.snapshot(sort, filter), sort: 'p99' })
 * await reader.close()
 * process.exitCode = end === 'quit' ? 0 : 130
 */
export function runScreen(options: ScreenOptions): Promise<ScreenEnd> {
  const stdin: ScreenInput = options.stdin ?? process.stdin
  const stdout: ScreenOutput = options.stdout ?? process.stdout
  const colour = useColour(stdout, options.env ?? process.env)
  const decoder = new StringDecoder('utf8')
  let keys: KeyState = initialKeys(options.sort ?? 'rps')
  let lastFrame = ''
  let active = true
  let timer: NodeJS.Timeout | undefined

  return new Promise<ScreenEnd>((resolve, reject) => {
    const draw = (): void => {
      if (!active) return
      try {
        const snapshot = options.snapshot(keys.sort, activeFilter(keys))
        const lines = layout(snapshot, {
          width: stdout.columns ?? 80, height: stdout.rows ?? 24, colour, filter: keys.filter, editing: keys.editing,
        })
        // Each line placed by its row: no newline is ever written, so nothing can scroll the screen.
        let frame = ''
        for (let i = 0; i < lines.length; i++) frame += `\x1b[${i + 1};1H${lines[i]}${CLEAR_LINE_END}`
        if (frame === lastFrame) return
        lastFrame = frame
        stdout.write(frame + CLEAR_SCREEN_END)
      } catch (error) {
        end(() => reject(error))
      }
    }
    const onData = (chunk: Buffer | string): void => {
      const text = typeof chunk === 'string' ? chunk : decoder.write(chunk)
      let changed = false
      for (const key of splitKeys(text)) {
        const next = press(keys, key)
        keys = next.state
        if (next.action === 'quit') { end(() => resolve('quit')); return }
        if (next.action === 'redraw') changed = true
      }
      if (changed) draw()
    }
    const onResize = (): void => {
      // Terminals reflow or keep stale cells on a resize: start from a blank screen.
      lastFrame = ''
      stdout.write(CLEAR_ALL)
      draw()
    }
    const onOutputError = (error?: Error): void => { end(() => reject(error ?? new Error('stdout failed'))) }
    const onSignal = (signal: NodeJS.Signals): void => { end(() => resolve(signal as ScreenEnd)) }
    const onExit = (): void => { restore() }

    const restore = (): void => {
      if (!active) return
      active = false
      clearInterval(timer)
      stdin.off('data', onData)
      stdout.off('resize', onResize)
      for (const signal of SIGNALS) process.off(signal, onSignal)
      process.off('exit', onExit)
      try {
        if (stdin.isTTY === true) stdin.setRawMode?.(false)
        stdin.pause()
        // A terminal that is gone (SIGHUP) may refuse this: there is nothing left to restore then.
        stdout.write(WRAP_ON + SHOW_CURSOR + ALT_SCREEN_OFF)
      } catch { /* the terminal is gone */ }
      // Kept a moment longer: a write refused after the restore must not become an unhandled 'error'.
      setImmediate(() => stdout.off('error', onOutputError))
    }
    const end = (settle: () => void): void => {
      restore()
      settle()
    }

    for (const signal of SIGNALS) process.on(signal, onSignal)
    // TTY writes are synchronous on Linux and macOS, so this restore reaches the terminal before the exit.
    process.on('exit', onExit)
    stdout.on('error', onOutputError)
    stdout.on('resize', onResize)
    stdin.on('data', onData)
    try {
      if (stdin.isTTY === true) stdin.setRawMode?.(true)
      stdin.resume()
      stdout.write(ALT_SCREEN_ON + HIDE_CURSOR + WRAP_OFF + HOME + CLEAR_ALL)
    } catch (error) {
      end(() => reject(error))
      return
    }
    // The timer need not keep the process alive: the raw stdin does, until the screen ends.
    timer = setInterval(draw, options.intervalMs ?? 1000)
    timer.unref()
    draw()
  })
}
