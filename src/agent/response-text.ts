/**
 * Bytes of an error response's body read at most: enough for any backend's message, bounded for a hostile one.
 *
 * @example
 * await responseText(res, MAX_ERROR_BODY_BYTES) // the same as responseText(res)
 */
export const MAX_ERROR_BODY_BYTES = 64 * 1024

/**
 * The start of a response's body as text, at most `maxBytes` of it, the rest left unread (the stream is cancelled).
 * For error messages, which are cut to a few hundred characters anyway: `res.text()` read a 256 MB body from a
 * misbehaving backend whole, and the agent's resident memory went from 86 MB to 887 MB.
 *
 * @example
 * const reason = (await responseText(res)).trim().slice(0, 500)
 */
export async function responseText(res: Response, maxBytes = MAX_ERROR_BODY_BYTES): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array> | null)?.getReader()
  if (reader === undefined) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.byteLength
    }
  } finally {
    await reader.cancel().catch(() => { /* already ended */ })
  }
  // A character cut in half at the bound decodes to U+FFFD: it is past anything a message shows.
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8')
}
