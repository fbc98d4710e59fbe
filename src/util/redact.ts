/**
 * Redaction of the secrets routemeter sends (passwords, API tokens, Basic credentials) from any text it
 * logs, hands to `onError` or stores (dead-letter reasons). One module for every caller, so a form of a
 * secret added here is removed everywhere.
 *
 * A secret leaks in more spellings than the one configured: servers echo the `Authorization` header
 * (base64 of `user:password`), URLs carry it percent-encoded, JSON bodies escape its quotes. Every spelling
 * is replaced by `***`, longest first, so a short secret inside a longer spelling cannot leave part of it.
 * Redact before truncating: a cut through the middle of a secret leaves a prefix no rule recognises.
 */

/** Text in, the same text with every known secret replaced by `***`. */
export type Redact = (text: string) => string

const MASK = '***'

/**
 * The spellings of `secret` that can appear in text: as is, percent-encoded (URL and form style,
 * upper- and lower-case hex) and JSON-escaped. Empty for an empty secret.
 *
 * @example
 * secretForms('p@ss w') // ['p@ss w', 'p%40ss%20w', 'p%40ss+w']
 */
export function secretForms(secret: string): string[] {
  if (secret === '') return []
  const forms = new Set<string>([secret])
  const encoded = encodeURIComponent(secret)
  forms.add(encoded)
  forms.add(encoded.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()))
  forms.add(new URLSearchParams({ s: secret }).toString().slice(2))
  forms.add(JSON.stringify(secret).slice(1, -1))
  return [...forms]
}

/**
 * The spellings of HTTP Basic credentials: every form of the password, and the base64 of
 * `username:password` (padded, unpadded, base64url), which is what an echoed `Authorization` header shows.
 *
 * @example
 * const redact = redactor(basicAuthSecrets('user', 'pw'))
 * redact('Authorization: Basic dXNlcjpwdw==') // 'Authorization: Basic ***'
 */
export function basicAuthSecrets(username: string, password: string): string[] {
  if (username === '' && password === '') return []
  const base64 = Buffer.from(`${username}:${password}`).toString('base64')
  return [...secretForms(password), base64, base64.replace(/=+$/, ''), Buffer.from(`${username}:${password}`).toString('base64url')]
}

/**
 * The password of a URL's `user:password@` part, in every spelling; works for any scheme, including
 * host lists (`redis+cluster://:pw@a:6379,b:6379`) that `new URL` cannot parse.
 *
 * @example
 * urlSecrets('redis://:s%40cret@cache:6379') // ['s@cret', 's%40cret', …]
 */
export function urlSecrets(url: string): string[] {
  // Greedy to the last '@' of the authority: a password may hold an unescaped '@' (`:p4@ss@host`).
  const match = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)@/i.exec(url)
  if (match === null) return []
  const colon = match[1].indexOf(':')
  if (colon === -1) return []
  const raw = match[1].slice(colon + 1)
  let decoded = raw
  try { decoded = decodeURIComponent(raw) } catch { /* malformed escapes: the raw spelling is all there is */ }
  return [...new Set([...secretForms(raw), ...secretForms(decoded)])]
}

/**
 * A URL fit for logs: the password replaced by `***`, the user name kept (it tells which account).
 *
 * @example
 * safeUrl('http://admin:pw@influx:8086') // 'http://admin:***@influx:8086'
 */
export function safeUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*):[^/?#]*@/i, `$1:${MASK}@`)
}

/**
 * A function removing every secret (each spelling given) from text, then applying `more` (other
 * components' redactors, e.g. each publisher's). Built once; the returned function is cheap when there is
 * nothing to hide.
 *
 * @example
 * const redact = redactor([...urlSecrets(redisUrl), ...basicAuthSecrets(user, password)])
 * onError(new Error(redact(message)))
 */
export function redactor(secrets: Iterable<string>, ...more: Array<Redact | undefined>): Redact {
  // Longest first: a password can be a substring of its own percent-encoded or base64 spelling's context.
  const list = [...new Set(secrets)].filter((s) => s !== '').sort((a, b) => b.length - a.length)
  const others = more.filter((r): r is Redact => typeof r === 'function')
  if (list.length === 0 && others.length === 0) return (text) => text
  return (text) => {
    let out = text
    for (const secret of list) if (out.includes(secret)) out = out.split(secret).join(MASK)
    for (const other of others) {
      // A third party's redactor must neither break our message nor crash the caller.
      try { const next = other(out); if (typeof next === 'string') out = next } catch { /* keep what we have */ }
    }
    return out
  }
}
