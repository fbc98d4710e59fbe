/*
 * A statsd (etsy, npm `statsd`) backend for tests: on every flush it writes one JSON line to stdout with the
 * counters, the full timer value lists and the timer counts the daemon computed. The console backend prints
 * the same objects through util.inspect, which cuts arrays at 100 items, so exact counts could not be read
 * from it.
 */
'use strict'

exports.init = function init(_startupTime, _config, events) {
  events.on('flush', (timestamp, metrics) => {
    const timerCounts = {}
    for (const key in metrics.timer_data) timerCounts[key] = metrics.timer_data[key].count
    process.stdout.write(`${JSON.stringify({ timestamp, counters: metrics.counters, timers: metrics.timers, timerCounts })}\n`)
  })
  return true
}
