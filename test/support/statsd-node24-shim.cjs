/*
 * Preloaded into the statsd daemon (npm `statsd` 0.9, its last release): it logs through `util.log`, which
 * Node 23 removed, so on Node 24 it dies reading its config. The shim puts back the same output
 * (`<date> - <message>`) and changes nothing else.
 */
'use strict'
const util = require('node:util')

if (typeof util.log !== 'function') {
  util.log = (message) => { process.stdout.write(`${new Date().toUTCString()} - ${message}\n`) }
}
