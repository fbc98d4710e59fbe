import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { activeFilter, initialKeys, nextSort, press, splitKeys, type KeyAction, type KeyState } from '../../src/top/keys.js'

/** The state after typing `chunk` (split as stdin delivers it) from `state`, and every action on the way. */
function type(state: KeyState, chunk: string): { state: KeyState, actions: KeyAction[] } {
  const actions: KeyAction[] = []
  for (const key of splitKeys(chunk)) {
    const next = press(state, key)
    state = next.state
    actions.push(next.action)
  }
  return { state, actions }
}

test('s cycles the sort rps → p99 → cpu → errors → rps', () => {
  const seen: string[] = []
  let state = initialKeys('rps')
  for (let i = 0; i < 5; i++) {
    const next = press(state, 's')
    assert.is(next.action, 'redraw')
    state = next.state
    seen.push(state.sort)
  }
  assert.equal(seen, ['p99', 'cpu', 'errors', 'rps', 'p99'])
  assert.is(nextSort('errors'), 'rps')
})

test('the cycle starts from the --sort given', () => {
  assert.equal(press(initialKeys('cpu'), 's').state, { sort: 'errors', filter: '', editing: undefined })
})

test('/ then text then Enter applies a filter; the table follows the text while it is typed', () => {
  const typing = type(initialKeys('rps'), '/Ord')
  assert.equal(typing.state, { sort: 'rps', filter: '', editing: 'Ord' })
  assert.is(activeFilter(typing.state), 'Ord')
  assert.equal(typing.actions, ['redraw', 'redraw', 'redraw', 'redraw'])
  const applied = type(typing.state, '\r')
  assert.equal(applied.state, { sort: 'rps', filter: 'Ord', editing: undefined })
  assert.is(activeFilter(applied.state), 'Ord')
})

test('Backspace removes the last character (both codes terminals send), Ctrl-U clears the text', () => {
  assert.equal(type(initialKeys('rps'), '/abc\x7f').state.editing, 'ab')
  assert.equal(type(initialKeys('rps'), '/abc\b\b').state.editing, 'a')
  assert.equal(type(initialKeys('rps'), '/a\x7f\x7f\x7f').state.editing, '')
  assert.equal(type(initialKeys('rps'), '/abc\x15x').state.editing, 'x')
  assert.equal(type(initialKeys('rps'), '/ü😀\x7f').state.editing, 'ü')
})

test('Esc while typing puts the previous filter back; / starts from the applied filter', () => {
  const applied = type(initialKeys('rps'), '/api\r').state
  const editing = type(applied, '/x')
  assert.is(editing.state.editing, 'apix')
  assert.equal(type(editing.state, '\x1b').state, { sort: 'rps', filter: 'api', editing: undefined })
})

test('Esc outside editing clears an applied filter, and does nothing without one', () => {
  const applied = type(initialKeys('rps'), '/api\r').state
  assert.equal(press(applied, '\x1b'), { state: { sort: 'rps', filter: '', editing: undefined }, action: 'redraw' })
  assert.equal(press(initialKeys('rps'), '\x1b'), { state: initialKeys('rps'), action: 'none' })
})

test('while typing, s and q are text; arrows and other control keys are ignored', () => {
  const state = type(initialKeys('rps'), '/sq\x1b[A\x1bOB\x01x').state
  assert.equal(state, { sort: 'rps', filter: '', editing: 'sqx' })
})

test('q and Ctrl-C quit; Ctrl-C also while typing', () => {
  assert.is(press(initialKeys('rps'), 'q').action, 'quit')
  assert.is(press(initialKeys('rps'), '\x03').action, 'quit')
  assert.is(press(type(initialKeys('rps'), '/ab').state, '\x03').action, 'quit')
})

test('other keys do nothing', () => {
  for (const key of ['x', 'S', '\r', '\x1b[A', ' ']) {
    assert.equal(press(initialKeys('p99'), key), { state: initialKeys('p99'), action: 'none' })
  }
})

test('splitKeys: escape sequences stay whole, a lone or doubled ESC is Esc, a paste is one key per character', () => {
  assert.equal(splitKeys('s\x1b[A/ab\r'), ['s', '\x1b[A', '/', 'a', 'b', '\r'])
  assert.equal(splitKeys('\x1b'), ['\x1b'])
  assert.equal(splitKeys('\x1b\x1b'), ['\x1b', '\x1b'])
  assert.equal(splitKeys('\x1b[1;5C\x1bOPq'), ['\x1b[1;5C', '\x1bOP', 'q'])
  assert.equal(splitKeys('\x1bx'), ['\x1bx'])
  assert.equal(splitKeys('😀é'), ['😀', 'é'])
})

test.run()
