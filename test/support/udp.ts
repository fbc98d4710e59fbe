import dgram from 'node:dgram'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { until } from './eventually.js'

export interface UdpCollector {
  readonly port: number
  /** Every line received so far, in order. */
  readonly lines: string[]
  /** Datagrams received so far, and the size of each. */
  packets: number
  readonly sizes: number[]
  /** Resolves once `pred(lines)` holds; rejects after `ms` (default 3000) with every line received. */
  waitFor(pred: (lines: string[]) => boolean, ms?: number): Promise<void>
  /** Closes the socket; again is a no-op, so a test's cleanup may close it whatever happened before. */
  close(): void
}

/**
 * A real UDP socket on a free loopback port collecting StatsD lines.
 *
 * @example
 * const udp = await udpCollector()
 * await udp.waitFor((lines) => lines.some((l) => l.startsWith('shop.users.id.RequestTime:')))
 */
export async function udpCollector(): Promise<UdpCollector> {
  const socket = dgram.createSocket('udp4')
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  // A receive buffer that outlasts a stall of the test process: with the default 208 KiB, a CI run on a 2-core VM
  // lost 25 datagrams (1,818 of 15,000 lines; the kernel's RcvbufErrors) of statsd-pacing.test.ts's paced flush
  // while the whole suite ran, and none in 6 runs of that file alone. The OS caps it at net.core.rmem_max.
  socket.setRecvBufferSize(8 * 2 ** 20)
  let closed = false
  const state: UdpCollector = {
    port: (socket.address() as AddressInfo).port,
    lines: [] as string[],
    packets: 0,
    sizes: [] as number[],
    async waitFor(pred: (lines: string[]) => boolean, ms = 3000) {
      await until(() => pred(state.lines), 'StatsD lines', ms).catch((error: Error) => {
        throw new Error(`${error.message}; got:\n${state.lines.join('\n')}`)
      })
    },
    close: () => {
      if (closed) return
      closed = true
      socket.close()
    },
  }
  socket.on('message', (msg) => {
    state.packets++
    state.sizes.push(msg.length)
    for (const line of msg.toString('utf8').split('\n')) if (line !== '') state.lines.push(line)
  })
  return state
}

/**
 * `name:value|type|#tags` parsed.
 *
 * @example
 * parseLine('users.id.RequestTime:2.5|ms|#method:GET') // { name: 'users.id.RequestTime', value: 2.5, type: 'ms', tags: ['method:GET'] }
 */
export function parseLine(line: string): { name: string, value: number, type: string, tags: string[] } {
  const found = /^([^:|]+):([^|]+)\|([a-z]+)(?:\|#(.*))?$/.exec(line)
  if (found === null) throw new Error(`not a StatsD line: ${JSON.stringify(line)}`)
  return { name: found[1]!, value: Number(found[2]), type: found[3]!, tags: found[4] === undefined ? [] : found[4].split(',') }
}
