/** statusClass: the one rule that tags a request's status in StatsD, InfluxDB and Prometheus alike. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { statusClass } from '../../src/wire/status-class.js'

test('each hundred from 100 to 599 is its class, edges included', () => {
  const codes = [100, 199, 200, 204, 299, 300, 304, 399, 400, 404, 499, 500, 503, 599]
  assert.equal(codes.map((code) => statusClass(code, false)), [
    '1xx', '1xx', '2xx', '2xx', '2xx', '3xx', '3xx', '3xx', '4xx', '4xx', '4xx', '5xx', '5xx', '5xx',
  ])
})

test('a code outside 100–599 is other: none sent (0), too small, too large, negative, not a number', () => {
  const codes = [0, 1, 99, 600, 999, 1000, 12345, -1, -200, NaN, Infinity, -Infinity]
  assert.equal(codes.map((code) => statusClass(code, false)), Array<string>(codes.length).fill('other'))
})

test('a fractional code takes the class of its hundred', () => {
  assert.equal([99.9, 100.5, 599.99, 600.01].map((code) => statusClass(code, false)), ['other', '1xx', '5xx', 'other'])
})

test('aborted wins over any code: the client hung up before the response finished', () => {
  assert.equal([0, 200, 404, 503, 600, NaN].map((code) => statusClass(code, true)), Array<string>(6).fill('aborted'))
})

test.run()
