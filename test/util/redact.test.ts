import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { basicAuthSecrets, redactor, safeUrl, secretForms, urlSecrets } from '../../src/util/redact.js'

const test = suite('redact')

test('every spelling of a secret is replaced: raw, percent-encoded, form-encoded, JSON-escaped', () => {
  const secret = 'p@ss w"ö'
  assert.equal(secretForms(''), [])
  const redact = redactor(secretForms(secret))
  const encoded = encodeURIComponent(secret)
  const form = new URLSearchParams({ q: secret }).toString()
  const text = [secret, encoded, encoded.toLowerCase(), form, JSON.stringify({ secret })].join(' | ')
  assert.is(redact(text), '*** | *** | *** | q=*** | {"secret":"***"}')
})

test('Basic credentials: the base64 of user:password is replaced however it is padded or cut', () => {
  const redact = redactor(basicAuthSecrets('user', 'pw'))
  assert.is(redact('Authorization: Basic dXNlcjpwdw=='), 'Authorization: Basic ***')
  assert.is(redact('basic dXNlcjpwdw (base64url dXNlcjpwdw), password pw'), 'basic *** (base64url ***), password ***')
  assert.equal(basicAuthSecrets('', ''), [])
})

test('URL passwords are found in any scheme, host lists included, and safeUrl keeps the user name', () => {
  assert.ok(urlSecrets('redis+cluster://:s%40cret@a:6379,b:6379').includes('s@cret'))
  assert.ok(urlSecrets('redis+cluster://:s%40cret@a:6379,b:6379').includes('s%40cret'))
  assert.equal(urlSecrets('http://host:8086/path?x=a@b'), [])
  assert.equal(urlSecrets('http://user@host'), [])
  assert.is(safeUrl('http://admin:p%40ss@influx:8086/x'), 'http://admin:***@influx:8086/x')
  assert.is(safeUrl('http://influx:8086/?a=b:c@d'), 'http://influx:8086/?a=b:c@d')
})

test('a password holding an unescaped @ is found and masked whole, up to the last @ of the authority', () => {
  assert.ok(urlSecrets('redis://:p4@ssw0rd@cache:6379/0').includes('p4@ssw0rd'))
  assert.is(safeUrl('http://admin:p4@ssw0rd@influx:8086/write?u=a@b'), 'http://admin:***@influx:8086/write?u=a@b')
  assert.is(redactor(urlSecrets('redis://:p4@ssw0rd@cache:6379'))('AUTH p4@ssw0rd failed'), 'AUTH *** failed')
})

test('a host-list URL whose password holds an unescaped @ gives every spelling of the whole password', () => {
  const secrets = urlSecrets('redis+cluster://:p4@ss%2Fx@a:1,b:2')
  for (const spelling of ['p4@ss%2Fx', 'p4@ss/x', 'p4%40ss%2Fx', 'p4%40ss%2fx']) assert.ok(secrets.includes(spelling), spelling)
  assert.not.ok(secrets.includes('p4'), 'not cut at the first @')
  assert.is(redactor(secrets)('AUTH p4@ss/x; url :p4%40ss%2fx@a:1'), 'AUTH ***; url :***@a:1')
  assert.equal(urlSecrets('redis+sentinel://user@s1:26379,s2:26379/m'), [])
})

test('longer spellings go first, and other redactors run after ours without being able to break it', () => {
  const redact = redactor(['ab', 'xaby'], (t) => t.replace('tok', '***'), () => { throw new Error('broken hook') }, undefined)
  assert.is(redact('xaby ab tok'), '*** *** ***')
  assert.is(redactor([])('nothing to hide'), 'nothing to hide')
})

test.run()
