/**
 * Hostile input: wrong methods (HEAD too), content types and encodings, uploads, gateway reads, encoded path tricks
 * in the requestid, garbage credentials. Every one is answered with a 4xx and the spec's JSON Failure body;
 * afterwards every pin made before is as it was. The barrage and its rules: test/fixtures/hostile.ts.
 */
import { METHODS } from 'node:http'
import { randomUUID } from 'node:crypto'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import {
  LIMIT, PEER, VALID, pre, preId, token, post, postJson, fullwidth, enc, caseTable, NOT_JSON,
  NOT_OBJECT, describeBarrage, type WirePinStatus, type Req
} from '../fixtures/hostile.js'

const { cases, add } = caseTable()
const addHead = (what: string, req: () => Req, status: 400 | 401 | 404): void => {
  cases.push({ category: 'methods', what, req, status, head: true })
}

// --- wrong methods --------------------------------------------------------------------------
{
  // Every method Node's parser knows except the ones each route serves (and CONNECT, which
  // Node hands to a 'connect' listener instead of the app; it is in the framing table).
  const others = (served: string[]): string[] => METHODS.filter(m => ![...served, 'CONNECT'].includes(m))
  for (const method of others(['GET', 'HEAD', 'POST'])) {
    add('methods', `${method} /pins`, () => ({
      method, path: '/pins', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cid: VALID })
    }), 405, new RegExp(method))
  }
  for (const method of others(['GET', 'HEAD', 'POST', 'DELETE'])) {
    add('methods', `${method} /pins/{requestid}`, () => ({
      method,
      path: `/pins/${preId()}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: VALID })
    }), 405, new RegExp(method))
  }
  add('methods', 'PUT /pins without a token', () => ({ method: 'PUT', path: '/pins', auth: null }), 401)
  add('methods', 'PATCH /pins/{requestid} without a token',
    () => ({ method: 'PATCH', path: `/pins/${preId()}`, auth: null }), 401)
  add('methods', 'DELETE /pins/{requestid}/extra', () => ({ method: 'DELETE', path: `/pins/${preId()}/extra` }), 404)
}
// HEAD requests: answered like GET, minus the body (see expectFailure).
addHead('HEAD /pins without a token', () => ({ method: 'HEAD', path: '/pins', auth: null }), 401)
addHead('HEAD /pins?limit=0', () => ({ method: 'HEAD', path: '/pins?limit=0' }), 400)
addHead('HEAD /pins?status=bogus', () => ({ method: 'HEAD', path: '/pins?status=bogus' }), 400)
addHead('HEAD /pins/%00', () => ({ method: 'HEAD', path: '/pins/%00' }), 400)
addHead('HEAD /pins/{unknown requestid}', () => ({ method: 'HEAD', path: `/pins/${randomUUID()}` }), 404)
addHead('HEAD /no-such-route', () => ({ method: 'HEAD', path: '/no-such-route' }), 404)

// --- content types and encodings --------------------------------------------------------------
{
  const body = (): string => JSON.stringify({ cid: VALID })
  const withType = (type: string, path = '/pins'): Req => post(body(), path, { 'content-type': type })
  const types = ['text/plain', 'text/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz',
    'application/jsonx', 'application/json5', 'application/x-json', 'text/plain; charset=utf-8', '*/*', 'application/*',
    'json', '', 'application/json, text/plain',
    'application/ json', 'application/octet-stream']
  for (const type of types) add('content types', `Content-Type: "${type}"`, () => withType(type), 415)
  add('content types', 'no Content-Type', () => post(body(), '/pins', {}), 415)
  add('content types', 'replace with Content-Type text/plain', () => withType('text/plain', `/pins/${preId()}`), 415)
  for (const charset of ['latin1', 'iso-8859-1', 'bogus', 'ascii-but-not-really']) {
    add('content types', `charset=${charset}`, () => withType(`application/json; charset=${charset}`), 415, /charset/)
  }
  // A UTF-8 body read as UTF-16 is garbage.
  add('content types', 'charset=utf-16 on a UTF-8 body',
    () => withType('application/json; charset=utf-16'), 400, NOT_JSON)
  const encoded = (encoding: string, data: Uint8Array): Req =>
    post(data, '/pins', { 'content-type': 'application/json', 'content-encoding': encoding })
  add('content types', 'gzip with a garbage body', () => encoded('gzip', Buffer.from('this is not gzip')), 400)
  add('content types', 'gzip with a plain JSON body', () => encoded('gzip', Buffer.from(body())), 400)
  add('content types', 'gzip truncated', () => encoded('gzip', gzipSync(body()).subarray(0, 15)), 400)
  add('content types', 'GZIP (upper case) with garbage', () => encoded('GZIP', Buffer.from('garbage')), 400)
  add('content types', 'deflate with garbage', () => encoded('deflate', Buffer.from('garbage')), 400)
  add('content types', 'br with garbage', () => encoded('br', Buffer.from('garbage')), 400)
  add('content types', 'gzip of broken JSON', () => encoded('gzip', gzipSync('{"cid": ')), 400, NOT_JSON)
  add('content types', 'deflate of a JSON array', () => encoded('deflate', deflateSync('[1]')), 400, NOT_OBJECT)
  add('content types', 'br of an invalid CID',
    () => encoded('br', brotliCompressSync('{"cid": "nope"}')), 400, /^cid\b/)
  // 8 KB of gzip that inflates to 16 MiB: the limit applies to the inflated body.
  add('content types', 'a gzip bomb', () => encoded('gzip', gzipSync(Buffer.alloc(16 * LIMIT, 0x20))), 413)
  for (const encoding of ['compress', 'x-unknown', 'gzip, gzip', 'identity, gzip', 'gzip;q=1']) {
    add('content types', `Content-Encoding: ${encoding}`, () => encoded(encoding, gzipSync(body())), 415, /encoding/)
  }
}

// --- uploads: forms and CARs that must be refused before anything is stored ----------------------
{
  const BOUNDARY = 'hostile-boundary'
  /** A multipart/form-data body with one file part named `filename`. */
  const form = (filename: string, content = 'x'): Req => post(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
    `Content-Type: application/octet-stream\r\n\r\n${content}\r\n--${BOUNDARY}--\r\n`,
    '/content', { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` })
  // Thousands of levels overflowed the UnixFS importer's recursion (500) before paths were bounded.
  add('uploads', 'a file 257 directories deep', () => form(`${'d/'.repeat(256)}f`), 400, /256 levels/)
  add('uploads', 'a file 1,500 directories deep',
    () => form(`${'d/'.repeat(1500)}f`), 400, /256 levels|4096 characters/)
  add('uploads', 'a file 4,000 directories deep',
    () => form(`${'d/'.repeat(4000)}f`), 400, /256 levels|4096 characters/)
  add('uploads', 'a file 6,000 directories deep',
    () => form(`${'d/'.repeat(6000)}f`), 400, /256 levels|4096 characters/)
  add('uploads', 'a 5,000-character path', () => form(`${'long-name/'.repeat(500)}f`), 400, /4096 characters/)
  add('uploads', 'a path of only dots and slashes', () => form('./././'), 400, /names no file/)
  add('uploads', "a path with '..'", () => form('a/../../etc/passwd'), 400, /'\.\.'/)
  add('uploads', 'a form without a boundary',
    () => post('x', '/content', { 'content-type': 'multipart/form-data' }), 400)
  add('uploads', 'a CAR of garbage',
    () => post(Buffer.from('not a car at all'), '/content', { 'content-type': 'application/vnd.ipld.car' }), 400)
  add('uploads', 'an empty CAR',
    () => post(new Uint8Array(0), '/content', { 'content-type': 'application/vnd.ipld.car' }), 400)
  add('uploads', 'a CAR with a /unix origin', () => ({
    ...post(Buffer.from('x'), `/content?origins=${enc(`/unix/%2Ftmp%2Fs/p2p/${PEER}`)}`,
      { 'content-type': 'application/vnd.ipld.car' })
  }), 400, /origins/)
  const bigMeta = JSON.stringify({
    k: 'v'.repeat(4000), l: 'v'.repeat(4000), m: 'v'.repeat(4000), n: 'v'.repeat(4000), o: 'v'.repeat(1000)
  })
  add('uploads', 'a form field meta over 16 KiB', () => post(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="meta"\r\n\r\n${bigMeta}\r\n` +
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nx\r\n--${BOUNDARY}--\r\n`,
    '/content', { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }), 400, /meta/)
}

// --- gateway reads ---------------------------------------------------------------------------------
{
  // A raw identity CID pinned before the barrage: it holds its own bytes, served while a pin names it.
  const PINNED = (): string => (pre[0] as WirePinStatus).pin.cid
  const cbor = (): string => CID.createV1(0x71, identity.digest(Uint8Array.from([0xff, 0xfe]))).toString()
  add('gateway', 'not a CID', () => ({ path: '/ipfs/not-a-cid' }), 400)
  add('gateway', 'a 3,000-character CID', () => ({ path: `/ipfs/b${'a'.repeat(3000)}` }), 400)
  add('gateway', 'format=zip', () => ({ path: `/ipfs/${PINNED()}?format=zip` }), 400, /format/)
  add('gateway', 'format given twice', () => ({ path: `/ipfs/${PINNED()}?format=raw&format=car` }), 400, /format/)
  add('gateway', 'a path under a raw block', () => ({ path: `/ipfs/${PINNED()}/a/b` }), 404)
  add('gateway', 'a path 5,000 levels deep', () => ({ path: `/ipfs/${PINNED()}/${'a/'.repeat(5000)}b` }), 404)
  add('gateway', 'an identity dag-cbor CID of bytes that do not decode',
    () => ({ path: `/ipfs/${cbor()}`, headers: { accept: 'application/vnd.ipld.car' } }), 404)
  add('gateway', 'a range past the end',
    () => ({ path: `/ipfs/${PINNED()}`, headers: { range: 'bytes=99999999999999999999-' } }), 416)
  add('gateway', 'a CID of an unknown codec',
    () => ({ path: `/ipfs/${CID.createV1(0x300001, CID.parse(PINNED()).multihash).toString()}` }), 400)
}

// --- encoded path tricks in the requestid --------------------------------------------------------
{
  const paths: Array<[string, () => string, 400 | 404]> = [
    ['..%2f..%2fetc%2fpasswd', () => '/pins/..%2f..%2fetc%2fpasswd', 404],
    ['..%2F..%2F..%2Fpins', () => '/pins/..%2F..%2F..%2Fpins', 404],
    ['%2e%2e', () => '/pins/%2e%2e', 404],
    ['%2E%2E%2F%2E%2E%2Fetc', () => '/pins/%2E%2E%2F%2E%2E%2Fetc', 404],
    ['..%2f + a real requestid', () => `/pins/..%2f${preId()}`, 404],
    ['a real requestid + %2f..', () => `/pins/${preId()}%2f..`, 404],
    ['%00', () => '/pins/%00', 400],
    ['a real requestid + %00', () => `/pins/${preId()}%00`, 400],
    ['%00 + a real requestid', () => `/pins/%00${preId()}`, 400],
    ['double-encoded slash %252f', () => '/pins/%252f', 404],
    ['double-encoded ../ %252e%252e%252f', () => '/pins/%252e%252e%252f', 404],
    ['double-encoded ..%252f..%252f', () => '/pins/..%252f..%252fetc', 404],
    ['%25', () => '/pins/%25', 404],
    ['%', () => '/pins/%', 400],
    ['%zz', () => '/pins/%zz', 400],
    ['%2', () => '/pins/%2', 400],
    ['invalid UTF-8 %C3%28', () => '/pins/%C3%28', 400],
    ['an encoded surrogate %ED%A0%80', () => '/pins/%ED%A0%80', 400],
    ['%FF', () => '/pins/%FF', 400],
    ['unicode ü', () => `/pins/${enc('ü')}`, 400],
    ['an emoji', () => `/pins/${enc('🌲')}`, 400],
    ['an RTL mark + a real requestid', () => `/pins/${enc('\u200f')}${preId()}`, 400],
    ['a fullwidth requestid', () => `/pins/${enc(fullwidth(preId()))}`, 400],
    ['%20', () => '/pins/%20', 400],
    ['CRLF %0d%0a', () => '/pins/%0d%0aSet-Cookie:%20x=y', 400],
    ['a tab %09', () => '/pins/%09', 400],
    ['129 characters', () => `/pins/${'x'.repeat(129)}`, 400],
    ['10,000 characters', () => `/pins/${'x'.repeat(10_000)}`, 400],
    ['/pins//x', () => '/pins//x', 404],
    ['/pins/x/', () => '/pins/x/', 404],
    ['/pins/x//', () => '/pins/x//', 404],
    ['/pins/x/y', () => '/pins/x/y', 404],
    ['a real requestid + /..', () => `/pins/${preId()}/..`, 404],
    ['/./ + a real requestid', () => `/pins/./${preId()}`, 404],
    ['..;/', () => '/pins/..;/x', 404],
    ['a backslash', () => '/pins\\x', 404],
    ['an encoded slash after /pins', () => '/pins%2Fx', 404],
    ['an unknown UUID', () => `/pins/${randomUUID()}`, 404],
    ['a real requestid in upper case', () => `/pins/${preId().toUpperCase()}`, 404],
    ['/%2e%2e/%2e%2e/etc/passwd', () => '/%2e%2e/%2e%2e/etc/passwd', 404],
    ['/index.html (/ itself is the web app)', () => '/index.html', 404],
    ['/pins.json', () => '/pins.json', 404],
    ['/api/v1/pins', () => '/api/v1/pins', 404]
  ]
  for (const [what, path, status] of paths) add('paths', `GET ${what}`, () => ({ path: path() }), status)
  add('paths', 'DELETE ..%2f + a real requestid', () => ({ method: 'DELETE', path: `/pins/..%2f${preId()}` }), 404)
  add('paths', 'DELETE a real requestid + %00', () => ({ method: 'DELETE', path: `/pins/${preId()}%00` }), 400)
  add('paths', 'DELETE %', () => ({ method: 'DELETE', path: '/pins/%' }), 400)
  add('paths', 'DELETE a real requestid + /.. ', () => ({ method: 'DELETE', path: `/pins/${preId()}/..` }), 404)
  add('paths', 'replace %2e%2e', () => postJson({ cid: VALID }, '/pins/%2e%2e'), 404)
  add('paths', 'replace a 200-character requestid', () => postJson({ cid: VALID }, `/pins/${'x'.repeat(200)}`), 400)
  add('paths', 'replace an encoded-slash requestid', () => postJson({ cid: VALID }, `/pins/${preId()}%2f`), 404)
  // Another user's requestid is indistinguishable from a missing one.
  add('paths', "GET another user's requestid",
    () => ({ path: `/pins/${preId()}`, auth: `Bearer ${token('admin')}` }), 404)
  add('paths', "DELETE another user's requestid",
    () => ({ method: 'DELETE', path: `/pins/${preId()}`, auth: `Bearer ${token('admin')}` }), 404)
  add('paths', "replace another user's requestid",
    () => ({ ...postJson({ cid: VALID }, `/pins/${preId()}`), auth: `Bearer ${token('admin')}` }), 404)
}

// --- garbage credentials ----------------------------------------------------------------------
{
  // Header values are sent as latin1 bytes: this turns a string into its UTF-8 bytes on the wire.
  const utf8Bytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1')
  const headers: Array<[string, () => string | null]> = [
    ['no Authorization header', () => null],
    ['an empty header', () => ''],
    ['Bearer alone', () => 'Bearer'],
    ['bearer alone (lower case)', () => 'bearer'],
    ['Bearer and a blank', () => 'Bearer '],
    ['Bearer and blanks', () => 'Bearer    '],
    ['Basic xyz', () => 'Basic xyz'],
    ['Basic credentials', () => 'Basic YWxpY2U6c2VjcmV0'],
    ['Negotiate', () => 'Negotiate YIIB'],
    ['Bearer a b', () => 'Bearer a b'],
    ['the valid token twice', () => `Bearer ${token()} ${token()}`],
    ['two Bearer credentials with a comma', () => `Bearer ${token()},Bearer ${token()}`],
    ['a tab instead of a space', () => `Bearer\t${token()}`],
    ['Token scheme', () => `Token ${token()}`],
    ['the token without a scheme', () => token()],
    ['Bearer=token', () => `Bearer=${token()}`],
    ['Bearer:token', () => `Bearer:${token()}`],
    ['Bearer%20token', () => `Bearer%20${token()}`],
    ['a quoted token', () => `Bearer "${token()}"`],
    ['the token plus a character', () => `Bearer ${token()}x`],
    ['the token minus a character', () => `Bearer ${token().slice(0, -1)}`],
    ['the token in upper case', () => `Bearer ${token().toUpperCase()}`],
    ['an unknown token', () => 'Bearer pinery_unknown-token'],
    ['an 8 KB token', () => `Bearer ${'a'.repeat(8 * 1024)}`],
    ['a latin1 token', () => 'Bearer tökén'],
    ['a UTF-8 token', () => `Bearer ${utf8Bytes('tökén☃🌲')}`],
    ['a token with a trailing NBSP', () => `Bearer ${token()}\u00a0`],
    ['a token of 0xFF bytes', () => 'Bearer \u00ff\u00ff\u00ff']
  ]
  for (const [what, header] of headers) {
    add('auth', `GET /pins with ${what}`, () => ({ path: '/pins', auth: header() }), 401)
  }
  // A bad token is refused before anything else is looked at, on every route.
  add('auth', 'POST /pins (valid body) with Bearer a b',
    () => ({ ...postJson({ cid: VALID }), auth: 'Bearer a b' }), 401)
  add('auth', 'POST /pins (broken body) without a token', () => ({ ...post('{"cid": '), auth: null }), 401)
  add('auth', 'POST /pins (2 MiB body) without a token',
    () => ({ ...post(Buffer.alloc(2 * LIMIT, 0x20)), auth: null }), 401)
  add('auth', 'GET /pins/{requestid} with an unknown token',
    () => ({ path: `/pins/${preId()}`, auth: 'Bearer pinery_nope' }), 401)
  add('auth', 'DELETE /pins/{requestid} without a token',
    () => ({ method: 'DELETE', path: `/pins/${preId()}`, auth: null }), 401)
  add('auth', 'DELETE /pins/{requestid} with Basic',
    () => ({ method: 'DELETE', path: `/pins/${preId()}`, auth: 'Basic YWxpY2U6eA==' }), 401)
  add('auth', 'replace /pins/{requestid} without a token',
    () => ({ ...postJson({ cid: VALID }, `/pins/${preId()}`), auth: null }), 401)

  // Token labels are printed in admins' terminals: printable characters only, refused at the edge.
  for (const [what, label] of [
    ['an ANSI escape', 'x\u001b[2Jcleared'], ['an OSC title sequence', 'x\u001b]0;owned\u0007'], ['a NUL', 'a\u0000b'],
    ['a newline', 'two\nlines'], ['a carriage return', 'over\rwrite'], ['a C1 CSI', 'x\u009b31m'], ['DEL', 'x\u007f'],
    ['a right-to-left override', 'abc\u202etxt.exe'], ['a zero-width joiner', 'a\u200db'],
    ['a line separator', 'a\u2028b'], ['a lone surrogate', 'a\ud800b'], ['129 characters', 'x'.repeat(129)],
    ['an empty string', '']
  ] as const) {
    add('tokens', `POST /tokens with a label holding ${what}`, () => postJson({ label }, '/tokens'), 400, /label/)
  }
  add('tokens', 'POST /tokens with a number as label', () => postJson({ label: 7 }, '/tokens'), 400, /label/)
  add('tokens', 'POST /tokens with expires in the past',
    () => postJson({ expires: '2001-01-01T00:00:00Z' }, '/tokens'), 400, /expires/)
  add('tokens', 'POST /tokens with expires not a time',
    () => postJson({ expires: 'tomorrow' }, '/tokens'), 400, /expires/)
  add('tokens', 'POST /tokens asking for admin as a member',
    () => postJson({ scope: 'admin' }, '/tokens'), 400, /scope/)
  add('tokens', 'POST /tokens with an unknown field',
    () => postJson({ label: 'x', parent: 'bootstrap' }, '/tokens'), 400)
  add('tokens', 'DELETE /tokens/{id} of the admin user\'s bootstrap token',
    () => ({ method: 'DELETE', path: '/tokens/bootstrap' }), 404)
  add('auth', 'GET /no-such-route without a token', () => ({ path: '/no-such-route', auth: null }), 401)
  add('auth', 'GET /pins?limit=0 without a token', () => ({ path: '/pins?limit=0', auth: null }), 401)
}

describeBarrage('hostile input: wrong methods (HEAD too)…', cases)
