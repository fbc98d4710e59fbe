/**
 * Replies of a Redis server in RESP2, as the sink's socket needs them: each one only as "done" or "failed
 * with this message", in the order they arrive, whatever the chunks they arrive in.
 */

/** Hears each whole reply (`error` set for an error reply), or that the stream cannot be read on. */
export interface ReplyListener {
  readonly reply: (error: Error | undefined) => void
  readonly broken: (error: Error) => void
}

const CR = 13
const PLUS = 43
const MINUS = 45
const COLON = 58
const DOLLAR = 36

/**
 * A reader of status (`+`), error (`-`), integer (`:`) and bulk (`$`) replies: the kinds AUTH, SELECT and XADD
 * give. Any other kind (an array, or RESP3) is a protocol the sink does not speak: `broken`, and nothing more
 * is read.
 *
 * @example
 * const read = replyReader({ reply: (error) => settleOldest(error), broken: (error) => socket.destroy(error) })
 * socket.on('data', read)
 * read(Buffer.from('$15\r\n1764806400000-0\r\n')) // one reply, no error
 */
export function replyReader(listener: ReplyListener): (chunk: Buffer) => void {
  const { reply, broken } = listener
  let buffered: Buffer | undefined
  let stopped = false
  return (chunk) => {
    if (stopped) return
    const data = buffered === undefined ? chunk : Buffer.concat([buffered, chunk])
    let at = 0
    while (at < data.length) {
      const end = data.indexOf(CR, at)
      if (end === -1 || end + 1 >= data.length) break
      const kind = data[at]
      if (kind === PLUS || kind === COLON) {
        at = end + 2
        reply(undefined)
      } else if (kind === MINUS) {
        const message = data.toString('utf8', at + 1, end)
        at = end + 2
        reply(new Error(message))
      } else if (kind === DOLLAR) {
        const length = Number(data.toString('latin1', at + 1, end))
        if (!Number.isInteger(length) || end === at + 1) { stop(new Error('Redis sent a malformed reply')); return }
        const next = length < 0 ? end + 2 : end + 2 + length + 2
        if (next > data.length) break
        at = next
        reply(undefined)
      } else {
        stop(new Error(`Redis sent a reply of a kind the sink does not read (${JSON.stringify(String.fromCharCode(kind))})`))
        return
      }
      if (stopped) return
    }
    buffered = at < data.length ? data.subarray(at) : undefined
  }

  function stop(error: Error): void {
    stopped = true
    buffered = undefined
    broken(error)
  }
}
