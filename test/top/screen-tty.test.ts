/*
 * The live screen in a real terminal: tmux runs this file as a child (ROUTEMETER_TOP_SCREEN_CHILD set), whose
 * runScreen draws a fixed, made-up Snapshot (the data side has its own tests); the test types keys with
 * `send-keys`, resizes with `resize-window` and reads the screen with `capture-pane`. Every screen read is
 * compared with what layout() returns for the same Snapshot, so a check here is about the terminal: raw keys
 * arriving, the alternate screen, the cursor, the restore on q, a signal or a crash.
 *
 * Without tmux the suite is skipped with one line on stderr (ROUTEMETER_REQUIRE_SERVICES=1 makes it fail).
 */
import { execFileSync } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { layout } from '../../src/top/layout.js'
import { runScreen } from '../../src/top/screen.js'
import type { RouteRow, Snapshot, SortKey } from '../../src/top/snapshot.js'
import { until } from '../support/eventually.js'
import { serviceSuite } from '../support/services.js'

const ROOT = join(__dirname, '..', '..')
const CHILD = 'ROUTEMETER_TOP_SCREEN_CHILD'
const MODE = 'ROUTEMETER_TOP_SCREEN_MODE'

function route(route: string, rps: number, p99: number, cpuShare: number, failurePct: number): RouteRow {
  return {
    route, method: 'GET', requests: rps * 60, rps, p50: p99 / 4, p99, cpuMean: cpuShare / 10, cpuShare,
    failurePct, clientErrorPct: 0, abortedPct: 0, spark: [1, 2, 3, 4, 5, 6, 7, 8],
  }
}

/** Four routes whose order differs under each sort. */
const ROUTES = [
  route('/alpha', 300, 5, 10, 0),
  route('/beta', 200, 900, 5, 1),
  route('/gamma', 100, 50, 70, 0),
  route('/delta', 50, 20, 15, 30),
]
const ORDER: Readonly<Record<SortKey, (r: RouteRow) => number>> = {
  rps: (r) => r.rps, p99: (r) => r.p99 ?? 0, cpu: (r) => r.cpuShare, errors: (r) => r.failurePct,
}

/** What the child's fake source returns; it sorts, and leaves the filter to the screen. */
function fakeSnapshot(sort: SortKey): Snapshot {
  return {
    at: 1_700_000_000_000, windowMs: 60_000, ratesOverMs: 60_000, stream: 'demo-stream', state: 'up', empty: false, entries: 650,
    totals: { requests: 39_000, rps: 650, failurePct: 2.6, clientErrorPct: 0, abortedPct: 0, cpuMs: 6000 },
    processes: 2, lag: 0, streamLength: 650, dropped: {}, sort,
    routes: [...ROUTES].sort((a, b) => ORDER[sort](b) - ORDER[sort](a)),
  }
}

/** The child: the screen on the fake source, its pid and how it ended written to the file named by CHILD. */
async function child(mark: string): Promise<void> {
  writeFileSync(mark, `pid ${process.pid}\n`)
  const mode = process.env[MODE]
  if (mode === 'uncaught') setTimeout(() => { throw new Error('boom outside the screen') }, 500)
  let frames = 0
  try {
    const end = await runScreen({
      intervalMs: 200,
      snapshot: (sort) => {
        if (mode === 'throw' && ++frames === 3) throw new Error('boom in a frame')
        return fakeSnapshot(sort)
      },
    })
    appendFileSync(mark, `end ${end}\n`)
  } catch (error) {
    process.stderr.write(`${(error as Error).stack}\n`)
    process.exitCode = 1
  }
}

if (process.env[CHILD] !== undefined) {
  void child(process.env[CHILD])
} else {
  const TMUX = { binary: 'tmux', debian: 'tmux' }
  const { it, cleanup, test } = serviceSuite('top screen in a terminal', 'test/top/screen-tty.test.ts', [TMUX])

  /** A tmux server of its own running this file as the screen's child, in a `width`×`height` window. */
  function terminal(width: number, height: number, env: Readonly<Record<string, string>> = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'routemeter-tty-'))
    const socket = join(dir, 'tmux.sock')
    const mark = join(dir, 'mark')
    const config = join(dir, 'tmux.conf')
    // No status bar: the pane is the whole window.
    writeFileSync(config, 'set -g status off\n')
    const tmux = (...args: string[]): string => execFileSync('tmux', ['-S', socket, '-f', config, ...args], { encoding: 'utf8' })
    const vars = Object.entries({ [CHILD]: mark, ...env }).map(([k, v]) => `${k}='${v}'`).join(' ')
    // After the child, the shell stays (sleep) so the pane's state is what the child left: alternate screen, cursor.
    // Without uvu's FORCE_COLOR, which the tmux server inherits: beside NO_COLOR, Node 22 warns into the pane.
    const script = `echo before top; env -u FORCE_COLOR ${vars} '${process.execPath}' --import tsx '${__filename}'; ` +
      'echo "exited $?"; exec sleep 600'
    tmux('new-session', '-d', '-s', 'top', '-x', String(width), '-y', String(height), '-c', ROOT, script)
    cleanup(() => {
      try { tmux('kill-server') } catch { /* already gone */ }
      rmSync(dir, { recursive: true, force: true })
    })
    const screen = (...flags: string[]): string[] => tmux('capture-pane', '-p', ...flags, '-t', 'top').replace(/\n$/, '').split('\n')
    const pane = (format: string): string => tmux('display-message', '-p', '-t', 'top', format).trim()
    return {
      tmux,
      screen,
      pane,
      keys: (...keys: string[]) => { tmux('send-keys', '-t', 'top', ...keys) },
      text: (text: string) => { tmux('send-keys', '-t', 'top', '-l', text) },
      mark: () => { try { return readFileSync(mark, 'utf8') } catch { return '' } },
      /** Waits for the child to end; its exit code. */
      async exited(): Promise<number> {
        let code = -1
        await until(() => {
          const line = screen().find((l) => l.startsWith('exited '))
          if (line !== undefined) code = Number(line.slice('exited '.length))
          return line !== undefined
        }, 'the child to exit', 10_000, 25)
        return code
      },
      /** Waits until the screen reads `expected` line for line (trailing blanks aside, as capture-pane drops them). */
      async shows(expected: readonly string[], what: string): Promise<void> {
        const want = expected.map((line) => line.trimEnd())
        let seen: string[] = []
        try {
          await until(() => { seen = screen(); return seen.join('\n') === want.join('\n') }, what, 10_000, 25)
        } catch (error) {
          assert.fixture(seen.join('\n'), want.join('\n'), (error as Error).message)
        }
      },
    }
  }

  // eslint-disable-next-line no-control-regex
  const ansi = /\x1b\[[0-9;]*m/g
  /** The frame layout() draws, as capture-pane reads it back: colour on (a tmux pane is a terminal), codes stripped. */
  const frame = (sort: SortKey, width: number, height: number, filter = '', editing?: string): string[] =>
    layout(fakeSnapshot(sort), { width, height, colour: true, filter, editing }).map((line) => line.replace(ansi, ''))
  const routesOn = (lines: readonly string[]): string[] => lines.filter((l) => l.startsWith('/')).map((l) => l.split(' ')[0]!)

  it('shows the routes on the alternate screen with the cursor hidden, in the order of the sort', async () => {
    const t = terminal(120, 30)
    await t.shows(frame('rps', 120, 30), 'the first frame')
    assert.equal(routesOn(t.screen()), ['/alpha', '/beta', '/gamma', '/delta'])
    assert.is(t.pane('#{alternate_on} #{cursor_flag}'), '1 0')
  })

  it('s re-sorts: p99, then cpu, then errors, then rps again', async () => {
    const t = terminal(120, 30)
    await t.shows(frame('rps', 120, 30), 'the first frame')
    const orders: string[][] = []
    for (const sort of ['p99', 'cpu', 'errors', 'rps'] as const) {
      t.keys('s')
      await t.shows(frame(sort, 120, 30), `the frame sorted by ${sort}`)
      orders.push(routesOn(t.screen()))
    }
    assert.equal(orders, [
      ['/beta', '/gamma', '/delta', '/alpha'],
      ['/gamma', '/delta', '/alpha', '/beta'],
      ['/delta', '/beta', '/alpha', '/gamma'],
      ['/alpha', '/beta', '/gamma', '/delta'],
    ])
  })

  it('/ filters as it is typed, Enter keeps it, Esc clears it', async () => {
    const t = terminal(120, 30)
    await t.shows(frame('rps', 120, 30), 'the first frame')
    t.text('/ET')
    await t.shows(frame('rps', 120, 30, '', 'ET'), 'the frame while typing "ET"')
    assert.equal(routesOn(t.screen()), ['/beta'])
    t.keys('BSpace', 'BSpace', 'a', 'Enter')
    await t.shows(frame('rps', 120, 30, 'a'), 'the frame filtered by "a"')
    assert.equal(routesOn(t.screen()), ['/alpha', '/beta', '/gamma', '/delta'].filter((r) => r.includes('a')))
    t.keys('Escape')
    await t.shows(frame('rps', 120, 30), 'the unfiltered frame')
  })

  it('a resize re-lays the table for the new size, both ways', async () => {
    const t = terminal(120, 30)
    await t.shows(frame('rps', 120, 30), 'the first frame')
    t.tmux('resize-window', '-t', 'top', '-x', '60', '-y', '15')
    await t.shows(frame('rps', 60, 15), 'the 60×15 frame')
    assert.is(t.screen()[4], 'route   method    req/s  p50 ms  p99 ms  CPU ms/req  CPU %')
    t.tmux('resize-window', '-t', 'top', '-x', '100', '-y', '20')
    await t.shows(frame('rps', 100, 20), 'the 100×20 frame')
  })

  it('q exits 0 and gives the terminal back: normal screen with what was on it, cursor shown', async () => {
    const t = terminal(120, 30)
    await t.shows(frame('rps', 120, 30), 'the first frame')
    t.keys('q')
    assert.is(await t.exited(), 0)
    assert.is(t.pane('#{alternate_on} #{cursor_flag}'), '0 1')
    assert.equal(t.screen().slice(0, 2), ['before top', 'exited 0'])
    assert.match(t.mark(), /\nend quit\n$/)
  })

  it('Ctrl-C quits like q', async () => {
    const t = terminal(80, 20)
    await t.shows(frame('rps', 80, 20), 'the first frame')
    t.keys('C-c')
    assert.is(await t.exited(), 0)
    assert.is(t.pane('#{alternate_on} #{cursor_flag}'), '0 1')
    assert.match(t.mark(), /\nend quit\n$/)
  })

  it('SIGTERM ends the screen with the terminal restored, and says it was the signal', async () => {
    const t = terminal(80, 20)
    await t.shows(frame('rps', 80, 20), 'the first frame')
    const pid = Number(/^pid (\d+)/.exec(t.mark())?.[1])
    process.kill(pid, 'SIGTERM')
    assert.is(await t.exited(), 0)
    assert.is(t.pane('#{alternate_on} #{cursor_flag}'), '0 1')
    assert.match(t.mark(), /\nend SIGTERM\n$/)
  })

  it('an error in a frame restores the terminal before the error is printed', async () => {
    const t = terminal(100, 20, { [MODE]: 'throw' })
    assert.is(await t.exited(), 1)
    assert.is(t.pane('#{alternate_on} #{cursor_flag}'), '0 1')
    const lines = t.screen()
    assert.is(lines[0], 'before top')
    assert.is(lines[1], 'Error: boom in a frame')
  })

  it('an uncaught exception elsewhere in the process restores the terminal, and its stack lands on the normal screen', async () => {
    const t = terminal(100, 20, { [MODE]: 'uncaught' })
    assert.is(await t.exited(), 1)
    assert.is(t.pane('#{alternate_on} #{cursor_flag}'), '0 1')
    assert.ok(t.screen().includes('Error: boom outside the screen'), t.screen().join('\n'))
  })

  it('colour on a terminal; none with NO_COLOR=1', async () => {
    const coloured = terminal(120, 30)
    await coloured.shows(frame('rps', 120, 30), 'the first frame')
    // capture-pane -e writes the cells' attributes back as escape codes: bold for the title, red for /delta's failures.
    assert.ok(coloured.screen('-e')[0]!.startsWith('\x1b[1mroutemeter top'), coloured.screen('-e')[0])
    const plain = terminal(120, 30, { NO_COLOR: '1' })
    await plain.shows(frame('rps', 120, 30), 'the first frame without colour')
    assert.equal(plain.screen('-e'), plain.screen())
  })

  test.run()
}
