// The config of a private influxd for the benches: loopback only, no reporting, no logs, no monitor store.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Writes `<dir>/influxdb.conf` for an influxd serving HTTP on `port` (RPC on `rpc`); returns its path. */
export function writeInfluxdConfig(dir, port, rpc) {
  const path = join(dir, 'influxdb.conf')
  writeFileSync(path, [
    'reporting-disabled = true',
    `bind-address = "127.0.0.1:${rpc}"`,
    '[meta]',
    ` dir = "${dir}/meta"`,
    ' logging-enabled = false',
    '[data]',
    ` dir = "${dir}/data"`,
    ` wal-dir = "${dir}/wal"`,
    ' query-log-enabled = false',
    '[monitor]',
    ' store-enabled = false',
    '[http]',
    ` bind-address = "127.0.0.1:${port}"`,
    ' log-enabled = false',
    '[logging]',
    ' level = "error"',
  ].join('\n') + '\n')
  return path
}
