import dgram from 'node:dgram'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'

/** A real UDP socket on a free loopback port collecting StatsD lines. */
export async function udpCollector(): Promise<{ port: number; lines: string[]; packets: number; sizes: number[]; waitFor(pred: (lines: string[]) => boolean, ms?: number): Promise<void>; close(): void }> {
  const socket = dgram.createSocket('udp4')
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  const state = {
    port: (socket.address() as AddressInfo).port,
    lines: [] as string[],
    packets: 0,
    sizes: [] as number[],
    async waitFor(pred: (lines: string[]) => boolean, ms = 3000) {
      const until = Date.now() + ms
      while (!pred(state.lines)) {
        if (Date.now() > until) throw new Error(`timed out waiting for StatsD lines; got:\n${state.lines.join('\n')}`)
        await new Promise((r) => setTimeout(r, 10))
      }
    },
    close: () => socket.close(),
  }
  socket.on('message', (msg) => {
    state.packets++
    state.sizes.push(msg.length)
    for (const line of msg.toString('utf8').split('\n')) if (line !== '') state.lines.push(line)
  })
  return state
}

/** `name:value|type|#tags` parsed. */
export function parseLine(line: string): { name: string; value: number; type: string; tags: string[] } {
  const found = /^([^:|]+):([^|]+)\|([a-z]+)(?:\|#(.*))?$/.exec(line)
  if (found === null) throw new Error(`not a StatsD line: ${JSON.stringify(line)}`)
  return { name: found[1]!, value: Number(found[2]), type: found[3]!, tags: found[4] === undefined ? [] : found[4].split(',') }
}
