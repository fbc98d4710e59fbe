// How busy the server's CPU was with work that is not the measured server: other processes on a shared
// machine, and (on a VM) time the hypervisor stole. Read from /proc/stat around each measured window, so a
// noisy round shows as a number instead of a mystery. Linux only; elsewhere it reports nothing.
import fs from 'node:fs'

const TICK_US = 10_000 // USER_HZ is 100 on every Linux that Node supports

/** Cumulative ticks of one CPU: { busy, total, steal }, or null when /proc/stat is not there. */
export function cpuTimes(cpu) {
  let text
  try { text = fs.readFileSync('/proc/stat', 'latin1') } catch { return null }
  const line = text.split('\n').find((l) => l.startsWith(`cpu${cpu} `))
  if (!line) return null
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number)
  return { busy: user + nice + system + irq + softirq, total: user + nice + system + idle + iowait + irq + softirq + steal, steal }
}

/**
 * Share of the CPU's time in the window used by anything but the measured server (whose own CPU is
 * `serverUs`), and the share stolen by the hypervisor. Resolution: one tick (10 ms).
 */
export function foreignShare(before, after, serverUs) {
  if (!before || !after) return null
  const total = after.total - before.total
  if (total <= 0) return null
  const foreign = Math.max(0, after.busy - before.busy - serverUs / TICK_US)
  return { foreign: foreign / total, steal: (after.steal - before.steal) / total }
}
