import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { decodedSegmentToken, MAX_SEGMENT_LENGTH, segmentToken } from '../../src/collect/segment-shape.js'
import { classifyLong } from '../../src/collect/token-score.js'
import { CLEAN, DIRTY, IDENTIFIER } from '../../src/collect/char-class.js'

test('segmentToken reads only the given range of a longer string', () => {
  const path = '/users/42/report.pdf/a1b2c3/.'
  assert.is(segmentToken(path, 1, 6), 'users')
  assert.is(segmentToken(path, 7, 9), 'id')
  assert.is(segmentToken(path, 10, 20), 'report_pdf')
  assert.is(segmentToken(path, 21, 27), 'id')
  assert.is(segmentToken(path, 28, 29), '')
})

test('decodedSegmentToken decodes first, and names a malformed escape id', () => {
  assert.is(decodedSegmentToken('%41%42%43'), 'ABC')
  assert.is(decodedSegmentToken('gitlab-org%2Fgitlab'), 'id')
  assert.is(decodedSegmentToken('%zz'), 'id')
  assert.is(decodedSegmentToken('%2E'), '')
  assert.is(decodedSegmentToken('%61'.repeat(MAX_SEGMENT_LENGTH)), 'a'.repeat(MAX_SEGMENT_LENGTH))
  assert.is(decodedSegmentToken('%61'.repeat(MAX_SEGMENT_LENGTH + 1)), 'id')
})

test('classifyLong tells random tokens from words and reports whether a word needs sanitizing', () => {
  assert.is(classifyLong('dQw4w9WgXcQ', 0, 11), IDENTIFIER)
  assert.is(classifyLong('getting-started', 0, 15), CLEAN)
  assert.is(classifyLong('release:notes', 0, 13), DIRTY)
})

test.run()
