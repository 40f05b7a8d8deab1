/**
 * Hostile input: one running service takes a barrage of malformed requests
 * (broken and deeply nested JSON, huge bodies, wrong types, invalid CIDs and
 * multiaddrs, odd unicode, bad query parameters, wrong methods and content
 * types, encoded path tricks, garbage credentials). Every one must be
 * answered with a 4xx and the spec's JSON Failure body
 * `{"error":{"reason","details"?}}`: never a 5xx, never a hang, never a
 * non-JSON error. Afterwards the service must still work and every pin made
 * before the barrage must be exactly as it was.
 *
 * Requests go over node:http with the path sent verbatim (fetch would
 * normalise `%2e%2e` and dot segments away) and a fresh connection each.
 * Requests that Node's own HTTP parser refuses before the app sees them
 * (broken framing, 100 KB headers) are a separate table at the end: Node
 * answers those itself, without a JSON body.
 */
import { METHODS, request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { connect, type Socket } from 'node:net'
import { randomBytes, randomUUID } from 'node:crypto'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { base32 } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import { startService, type TestService } from '../fixtures/service.js'

// ---------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------

/** The default PINERY_MAX_BODY_BYTES. */
const LIMIT = 1024 * 1024
// A syntactically valid peer ID; nothing listens at the addresses built with it.
const PEER = '12D3KooWLYrdHaeG1p9rdgSyvpPyUrTjank2zH1xKBb2uYEPikDk'
const origin = (port: number): string => `/ip4/127.0.0.1/tcp/${port}/p2p/${PEER}`
const ORIGIN = origin(4001)

let seq = 0
/** A raw identity CID: pinned at once, so its status never changes under the test. */
function instantCid (): CID {
  const bytes = new TextEncoder().encode(`pinery hostile test ${++seq} ${randomUUID()}`)
  return CID.createV1(raw.code, identity.digest(bytes))
}
const VALID = instantCid().toString()
const VALID_V0 = 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'

interface WirePin { cid: string, name?: string, origins?: string[], meta?: Record<string, string> }
interface WirePinStatus { requestid: string, status: string, created: string, pin: WirePin }

const logs: string[] = []
let svc: TestService
/** Pins made before the barrage, as the create answered them. */
let pre: WirePinStatus[] = []
const preId = (i = 0): string => (pre[i] as WirePinStatus).requestid
const token = (user = 'alice'): string => svc.tokens[user] as string

/** One request as sent on the wire. */
interface Req {
  method?: string
  /** Sent verbatim, percent-escapes and dot segments included. */
  path: string
  headers?: Record<string, string>
  body?: string | Uint8Array
  /** Sent with Transfer-Encoding: chunked, one write each (no Content-Length). */
  chunks?: Uint8Array[]
  /** The whole Authorization header; null sends none; default alice's Bearer token. */
  auth?: string | null
}

interface Reply { status: number, headers: IncomingHttpHeaders, body: string }

/** Sends `req` on a fresh connection; rejects if no complete answer comes within 10 s (a hang). */
async function send (req: Req): Promise<Reply> {
  const { port } = new URL(svc.url)
  const headers: Record<string, string> = { ...req.headers }
  const auth = req.auth === undefined ? `Bearer ${token()}` : req.auth
  if (auth != null) headers.authorization = auth
  if (req.chunks != null) headers['transfer-encoding'] = 'chunked'
  // node:http frames a body on DELETE, OPTIONS and TRACE only when told its length.
  else if (req.body != null) headers['content-length'] = String(Buffer.byteLength(req.body))
  return await new Promise<Reply>((resolve, reject) => {
    let answered = false
    const options = { host: '127.0.0.1', port, method: req.method ?? 'GET', path: req.path, headers, agent: false }
    const r = httpRequest(options, res => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => {
        answered = true
        resolve({ status: res.statusCode as number, headers: res.headers, body: Buffer.concat(parts).toString('utf8') })
      })
      res.on('error', reject)
    })
    // A server that answers early (413 before the whole upload) may reset the rest of the upload.
    r.on('error', err => { if (!answered) reject(err) })
    r.setTimeout(10_000, () => {
      r.destroy(new Error(`no answer within 10 s to ${req.method ?? 'GET'} ${req.path.slice(0, 80)}`))
    })
    if (req.chunks != null) {
      for (const c of req.chunks) r.write(c)
      r.end()
    } else {
      r.end(req.body)
    }
  })
}

const REASONS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  416: 'RANGE_NOT_SATISFIABLE',
  431: 'REQUEST_HEADER_FIELDS_TOO_LARGE'
}

/** Asserts a JSON Failure body: exactly `{"error":{"reason","details"?}}`, reason non-empty. Returns details. */
function expectFailureBody (text: string, status: number, where: string): string | undefined {
  const body = JSON.parse(text) as { error: { reason: unknown, details?: unknown } }
  expect(Object.keys(body), where).toEqual(['error'])
  expect(body.error, where).toBeTypeOf('object')
  expect(body.error, where).not.toBeNull()
  for (const key of Object.keys(body.error)) expect(['reason', 'details'], where).toContain(key)
  expect(body.error.reason, where).toBeTypeOf('string')
  expect((body.error.reason as string).trim(), where).not.toBe('')
  expect(body.error.reason, where).toBe(REASONS[status])
  if (body.error.details !== undefined) expect(body.error.details, where).toBeTypeOf('string')
  return body.error.details as string | undefined
}

/** Asserts `reply` is the 4xx `status` with a JSON Failure body (HEAD: the headers of one). */
function expectFailure (reply: Reply, status: number, opts: { head?: boolean, details?: RegExp } = {}): void {
  const where = `${reply.status} ${reply.body.slice(0, 300)}`
  expect(reply.status, where).toBeLessThan(500)
  expect(reply.status, where).toBe(status)
  expect(reply.headers['content-type'], where).toMatch(/^application\/json(;|$)/)
  if (status === 401) expect(reply.headers['www-authenticate'], where).toMatch(/^Bearer/)
  if (status === 405) expect(reply.headers.allow, where).toMatch(/^GET, POST/)
  if (opts.head === true) {
    // HTTP forbids a body in the answer to HEAD: the headers still describe the JSON Failure
    // a GET would get (its type and non-zero length), and no body bytes may follow.
    expect(reply.body).toBe('')
    expect(Number(reply.headers['content-length'])).toBeGreaterThan(0)
    return
  }
  const details = expectFailureBody(reply.body, status, where)
  if (opts.details != null) expect(details, where).toMatch(opts.details)
}

/** Raw JSON text POSTed to /pins (or `path`) as application/json. */
const post = (
  body: string | Uint8Array, path = '/pins', headers: Record<string, string> = { 'content-type': 'application/json' }
): Req =>
  ({ method: 'POST', path, headers, body })
const postJson = (value: unknown, path = '/pins'): Req => post(JSON.stringify(value), path)
const getPins = (query: string): Req => ({ path: `/pins?${query}` })

/** A JSON text of exactly `bytes` bytes: `build(fill)` with an ASCII fill of the right length. */
function sized (bytes: number, build: (fill: string) => string): string {
  const text = build('x'.repeat(bytes - Buffer.byteLength(build(''))))
  expect(Buffer.byteLength(text)).toBe(bytes)
  return text
}

const fullwidth = (s: string): string =>
  s.replace(/[0-9a-z]/gi, c => String.fromCodePoint(c.codePointAt(0) as number + 0xfee0))
const arabicDigits = (s: string): string => s.replace(/[0-9]/g, d => String.fromCodePoint(0x660 + Number(d)))
const enc = encodeURIComponent

// ---------------------------------------------------------------------------
// The barrage: every entry must be answered `status` with a JSON Failure
// ---------------------------------------------------------------------------

type Category = 'broken JSON' | 'deep nesting' | 'huge bodies' | 'wrong types' | 'invalid CIDs' | 'invalid origins' |
  'odd unicode' | 'query parameters' | 'methods' | 'content types' | 'paths' | 'auth' | 'tokens' | 'uploads'
  | 'gateway'

interface HostileCase {
  category: Category
  what: string
  req: () => Req
  status: 400 | 401 | 404 | 405 | 413 | 415 | 416
  /** What the details must say (usually the field at fault). */
  details?: RegExp
}

const HOSTILE: HostileCase[] = []
const add = (
  category: Category, what: string, req: () => Req, status: HostileCase['status'], details?: RegExp
): void => {
  HOSTILE.push({ category, what, req, status, ...(details != null ? { details } : {}) })
}
const NOT_JSON = /not valid JSON/
const NOT_OBJECT = /must be a JSON object/

// --- broken JSON -----------------------------------------------------------
{
  const full = JSON.stringify({ cid: VALID, name: 'n', origins: [ORIGIN], meta: { k: 'v' } })
  // Every proper prefix of an object is broken JSON; 12 cut points spread over the text.
  for (let i = 1; i <= 12; i++) {
    const cut = Math.floor(full.length * i / 13)
    add('broken JSON', `truncated after ${cut} of ${full.length} characters`,
      () => post(full.slice(0, cut)), 400, NOT_JSON)
  }
  for (const [what, tail] of [['x', 'x'], ['a second }', '}'], ['a second object', '{}'], ['a comma', ','],
    ['a NUL', '\u0000'], ['a comment', ' // done'], ['a copy of itself', full], ['a ]', ']']]) {
    add('broken JSON', `trailing garbage: ${what}`, () => post(full + tail), 400, NOT_JSON)
  }
  for (const literal of ['NaN', 'Infinity', '-Infinity', 'undefined', '0x1F', '+1', '01', '.5', '1.', 'True', 'None',
    'nul', "'x'"]) {
    add('broken JSON', `cid: ${literal}`, () => post(`{"cid": ${literal}}`), 400, NOT_JSON)
  }
  const syntax: Array<[string, string]> = [
    ['single-quoted keys and strings', `{'cid': '${VALID}'}`],
    ['a single-quoted string', `{"cid": '${VALID}'}`],
    ['an unquoted key', `{cid: "${VALID}"}`],
    ['a trailing comma', `{"cid": "${VALID}",}`],
    ['a double comma', `{"cid": "${VALID}",, "name": "n"}`],
    ['a missing colon', `{"cid" "${VALID}"}`],
    ['a missing comma', `{"cid": "${VALID}" "name": "n"}`],
    ['a colon in an array', `["cid": "${VALID}"]`],
    ['mismatched brackets', `{"cid": "${VALID}"]`],
    ['a leading // comment', `// pin this\n{"cid": "${VALID}"}`],
    ['a leading /* comment */', `/* pin */{"cid": "${VALID}"}`],
    ['an inner /* comment */', `{"cid": "${VALID}" /* pin */}`],
    ['a bad escape \\x41', `{"cid": "${VALID}\\x41"}`],
    ['a short \\u escape', '{"cid": "\\u12"}'],
    ['a non-hex \\u escape', '{"cid": "\\u12G4"}'],
    ['a raw control character in a string', `{"cid": "${VALID}", "name": "a\u0001b"}`],
    ['a raw newline in a string', `{"cid": "${VALID}", "name": "a\nb"}`],
    ['a raw tab in a string', `{"cid": "${VALID}", "name": "a\tb"}`],
    ['an unterminated string', `{"cid": "${VALID}}`],
    ['a lone backslash at the end', `{"cid": "${VALID}\\`],
    ['whitespace only', '   \n\t '],
    ['two BOMs', `\uFEFF\uFEFF{"cid": "${VALID}"}`],
    ['a BOM in the middle', `{"cid": \uFEFF"${VALID}"}`]
  ]
  for (const [what, text] of syntax) add('broken JSON', what, () => post(text), 400, NOT_JSON)
  add('broken JSON', 'UTF-16LE with a BOM', () => post(Buffer.concat([
    Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify({ cid: VALID }), 'utf16le')
  ])), 400, NOT_JSON)
  // Invalid UTF-8 decodes to U+FFFD: valid JSON, but not a CID.
  add('broken JSON', 'invalid UTF-8 bytes in a string', () => post(Buffer.concat([
    Buffer.from('{"cid":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from('"}')
  ])), 400, /cid/)
  add('broken JSON', 'an empty body', () => post(''), 400, /cid: is required/)
  for (const text of ['null', 'true', '42', '"bafy"', '[]', `[{"cid": "${VALID}"}]`]) {
    add('broken JSON', `a JSON ${text.slice(0, 12)} instead of an object`, () => post(text), 400, NOT_OBJECT)
  }
  // Replacing a pin with a broken body must leave it untouched (checked after the barrage).
  const replacements: Array<[string, string]> = [
    ['truncated', full.slice(0, 20)], ['trailing garbage', `${full}x`], ['a comment', `/* x */${full}`],
    ['NaN', '{"cid": NaN}'], ['an array', '[]']
  ]
  for (const [what, text] of replacements) {
    add('broken JSON', `replace with ${what}`, () => post(text, `/pins/${preId()}`), 400,
      what === 'an array' ? NOT_OBJECT : NOT_JSON)
  }
}

// --- deeply nested JSON -----------------------------------------------------
{
  const N = 10_000
  const arrays = (n: number, inner = ''): string => '['.repeat(n) + inner + ']'.repeat(n)
  const objects = (n: number, inner = '1'): string => '{"a":'.repeat(n) + inner + '}'.repeat(n)
  add('deep nesting', `${N} levels of [`, () => post(arrays(N)), 400, NOT_OBJECT)
  add('deep nesting', `${N} unclosed [`, () => post('['.repeat(N)), 400, NOT_JSON)
  add('deep nesting', `${N} levels of {`, () => post(objects(N)), 400, /cid: is required/)
  add('deep nesting', `${N} unclosed {`, () => post('{"a":'.repeat(N)), 400, NOT_JSON)
  add('deep nesting', `cid: ${N} levels of [`, () => post(`{"cid": ${arrays(N, `"${VALID}"`)}}`), 400, /cid/)
  add('deep nesting', `name: ${N} levels of {`,
    () => post(`{"cid": "${VALID}", "name": ${objects(N, '"n"')}}`), 400, /name/)
  add('deep nesting', `origins: ${N} levels of [`,
    () => post(`{"cid": "${VALID}", "origins": ${arrays(N, `"${ORIGIN}"`)}}`), 400, /origins/)
  add('deep nesting', `meta value: ${N} levels of [`,
    () => post(`{"cid": "${VALID}", "meta": {"k": ${arrays(N, '"v"')}}}`), 400, /meta/)
  add('deep nesting', `meta: ${N} levels of {`,
    () => post(`{"cid": "${VALID}", "meta": ${objects(N, '"v"')}}`), 400, /meta/)
  add('deep nesting', `an unknown field ${N} levels deep, no cid`,
    () => post(`{"x": ${arrays(N)}}`), 400, /cid: is required/)
  add('deep nesting', '500,000 levels of [ (1 MB, within the limit)', () => post(arrays(500_000)), 400, NOT_OBJECT)
  add('deep nesting', '2,000,000 levels of [ (over the limit)', () => post(arrays(2_000_000)), 413)
}

// --- huge strings and bodies --------------------------------------------------
{
  const TOO_LONG = /at most \d+ characters/
  // Base58, base36 and base10 decoding is quadratic: each of these once blocked the event loop for minutes.
  for (const [what, prefix, digit] of [['base32', 'b', 'a'], ['base58 CIDv0', 'Q', '2'], ['base58btc', 'z', '2'],
    ['base36', 'k', '2'], ['base10', '9', '2'], ['base64', 'm', 'A']]) {
    add('huge bodies', `a ${what} cid filling the body limit exactly`,
      () => post(sized(LIMIT, fill => JSON.stringify({ cid: `${prefix}${digit}${fill}` }))), 400, TOO_LONG)
  }
  add('huge bodies', 'a 1 MB name',
    () => post(sized(LIMIT, fill => JSON.stringify({ cid: VALID, name: fill }))), 400, /name/)
  add('huge bodies', 'a 1 MB origin',
    () => post(sized(LIMIT, fill => JSON.stringify({ cid: VALID, origins: [`/ip4/1.2.3.4/tcp/1/p2p/Qm${fill}`] }))),
    400, /origins/)
  add('huge bodies', 'a 1 MB base58 peer ID in a short origin list',
    () => post(JSON.stringify({ cid: VALID, origins: [`/p2p/Qm${'2'.repeat(900_000)}`] })), 400, /origins/)
  add('huge bodies', '50,000 origins',
    () => postJson({ cid: VALID, origins: Array.from({ length: 50_000 }, (_, i) => `o${i}`) }), 400, /origins/)
  add('huge bodies', 'a 1 MB meta key with a number value',
    () => post(sized(LIMIT, fill => JSON.stringify({ cid: VALID, meta: { [fill]: 1 } }))), 400, /meta/)
  add('huge bodies', '60,000 meta entries', () => postJson({
    cid: VALID, meta: Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`k${i}`, 'v']))
  }), 400, /meta/)
  add('huge bodies', 'a 256-character meta key',
    () => postJson({ cid: VALID, meta: { ['k'.repeat(256)]: 'v' } }), 400, /meta/)
  add('huge bodies', 'a 4097-character meta value',
    () => postJson({ cid: VALID, meta: { k: '🌲'.repeat(4097) } }), 400, /meta/)
  add('huge bodies', '20 KB of meta in 1000 short entries', () => postJson({
    cid: VALID, meta: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`key${i}`, `value-${i}-x`]))
  }), 400, /meta: must be at most 16384 bytes/)
  add('huge bodies', 'a valid pin one byte over the limit',
    () => post(sized(LIMIT + 1, fill => JSON.stringify({ cid: VALID, meta: { pad: fill } }))), 413)
  add('huge bodies', 'a 2 MiB body',
    () => post(sized(2 * LIMIT, fill => JSON.stringify({ cid: VALID, name: fill }))), 413)
  add('huge bodies', 'a 16 MiB body', () => post(Buffer.alloc(16 * LIMIT, 0x20)), 413)
  add('huge bodies', 'a 2 MiB chunked body without Content-Length', () => ({
    method: 'POST',
    path: '/pins',
    headers: { 'content-type': 'application/json' },
    chunks: Array.from({ length: 32 }, () => Buffer.alloc(LIMIT / 16, 0x20))
  }), 413)
  add('huge bodies', 'replace with a 2 MiB body',
    () => post(sized(2 * LIMIT, fill => JSON.stringify({ cid: VALID, name: fill })), `/pins/${preId()}`), 413)
}

// --- wrong types for every field ------------------------------------------------
{
  const WRONG: Record<'cid' | 'name' | 'origins' | 'meta', unknown[]> = {
    cid: [42, -1.5, 0, 1e308, true, false, null, [], [VALID], {}, { '/': VALID }, ''],
    name: [42, -1.5, 0, true, false, [], ['n'], {}, { a: 'b' }],
    origins: [42, true, false, ORIGIN, {}, { 0: ORIGIN }, [42], [null], [true], [[]], [{}], [[ORIGIN]], [ORIGIN, 7]],
    meta: [42, true, false, 'k=v', [], ['a'], [['k', 'v']], { a: 1 }, { a: null }, { a: true }, { a: [] }, { a: {} },
      { a: 1.5 }, { a: 'ok', b: 2 }]
  }
  for (const [field, values] of Object.entries(WRONG)) {
    for (const value of values) {
      add('wrong types', `${field}: ${JSON.stringify(value)}`,
        () => postJson({ cid: VALID, [field]: value }), 400, new RegExp(`^${field}\\b`))
    }
  }
  add('wrong types', 'no cid at all',
    () => postJson({ name: 'n', origins: [ORIGIN], meta: { k: 'v' } }), 400, /cid: is required/)
  add('wrong types', 'Cid instead of cid', () => postJson({ Cid: VALID }), 400, /cid: is required/)
}

// --- invalid CIDs -----------------------------------------------------------------
{
  const v1 = VALID
  const badCids: Array<[string, () => string]> = [
    ['empty', () => ''],
    ['a space', () => ' '],
    ['whitespace', () => '\t\n'],
    ['a leading space', () => ` ${v1}`],
    ['a trailing space', () => `${v1} `],
    ['a trailing newline', () => `${v1}\n`],
    ['non-ASCII letters', () => 'bafküñï'],
    ['emoji', () => '🌲🌲'],
    ['fullwidth characters', () => fullwidth(v1)],
    ['a zero-width space inside', () => `${v1.slice(0, 6)}\u200b${v1.slice(6)}`],
    ['very long base32 (5,000 characters)', () => `b${'a'.repeat(4999)}`],
    ['very long base58 (5,000 characters)', () => `Qm${'2'.repeat(4998)}`],
    ['an unknown multibase prefix x', () => `x${v1.slice(1)}`],
    ['an unknown multibase prefix @', () => `@${v1.slice(1)}`],
    ['truncated CIDv1', () => v1.slice(0, -3)],
    ['truncated CIDv0', () => VALID_V0.slice(0, -1)],
    ['CIDv0 with a 0 (not base58)', () => `${VALID_V0.slice(0, -1)}0`],
    ['CIDv0 with an l (not base58)', () => `${VALID_V0.slice(0, -1)}l`],
    ['just b', () => 'b'],
    ['just Qm', () => 'Qm'],
    ['just z', () => 'z'],
    ['a CIDv2', () => base32.encode(Uint8Array.of(2, raw.code, 0x00, 0x00))],
    ['a peer ID (libp2p-key codec)', () => CID.createV1(0x72, identity.digest(randomBytes(8))).toString(base36)],
    ['git-raw codec', () => CID.createV1(0x78, createDigest(0x12, randomBytes(32))).toString()],
    ['blake2b-256 hash', () => CID.createV1(raw.code, createDigest(0xb220, randomBytes(32))).toString()],
    ['a multihash whose length lies', () => base32.encode(Uint8Array.of(1, raw.code, 0x12, 0x20, 1, 2, 3))],
    ['an /ipfs/ path', () => `/ipfs/${v1}`],
    ['an ipfs:// URL', () => `ipfs://${v1}`],
    ['a gateway URL', () => `https://ipfs.io/ipfs/${v1}`],
    ['a CID with a path', () => `${v1}/file.txt`],
    ['two CIDs with a comma', () => `${v1},${v1}`],
    ['base64 with invalid characters', () => 'm!!!!'],
    ['base16 of odd length', () => 'f017'],
    ['base16 with non-hex', () => 'fzz'],
    ['identity multibase (NUL prefix) with garbage', () => '\u0000garbage']
  ]
  for (const [what, cid] of badCids) add('invalid CIDs', what, () => postJson({ cid: cid() }), 400, /^cid\b/)
}

// --- invalid multiaddrs in origins ----------------------------------------------------
{
  const badOrigins: Array<[string, () => unknown[]]> = [
    ['garbage', () => ['garbage']],
    ['empty', () => ['']],
    ['a space', () => [' ']],
    ['just /', () => ['/']],
    ['just /ip4', () => ['/ip4']],
    ['no port or peer', () => ['/ip4/127.0.0.1']],
    ['no /p2p', () => ['/ip4/127.0.0.1/tcp/4001']],
    ['an IPv4 address out of range', () => [`/ip4/999.1.1.1/tcp/1/p2p/${PEER}`]],
    ['a bad IPv6 address', () => [`/ip6/::zz/tcp/1/p2p/${PEER}`]],
    ['a port over 65535', () => [`/ip4/1.1.1.1/tcp/99999/p2p/${PEER}`]],
    ['a negative port', () => [`/ip4/1.1.1.1/tcp/-1/p2p/${PEER}`]],
    ['an unknown protocol', () => [`/ip4/1.1.1.1/nope/1/p2p/${PEER}`]],
    ['a bad peer ID', () => ['/ip4/1.1.1.1/tcp/1/p2p/QmNotAPeerId']],
    ['an empty peer ID', () => ['/ip4/1.1.1.1/tcp/1/p2p/']],
    ['a truncated peer ID', () => [`/ip4/1.1.1.1/tcp/1/p2p/${PEER.slice(0, -3)}`]],
    ['a content CID as peer ID', () => [`/ip4/1.1.1.1/tcp/1/p2p/${VALID}`]],
    ['an emoji peer ID', () => ['/ip4/1.1.1.1/tcp/1/p2p/🌲']],
    ['a NUL after the peer ID', () => [`${ORIGIN}\u0000`]],
    ['ending in p2p-circuit', () => [`${ORIGIN}/p2p-circuit`]],
    ['an http URL', () => [`http://1.1.1.1:4001/p2p/${PEER}`]],
    ['no leading slash', () => [ORIGIN.slice(1)]],
    ['a number among strings', () => [ORIGIN, 42]],
    ['null among strings', () => [origin(1), null]],
    ['21 entries', () => Array.from({ length: 21 }, (_, i) => origin(5001 + i))],
    ['100 entries', () => Array.from({ length: 100 }, (_, i) => origin(6001 + i))],
    ['a duplicate', () => [ORIGIN, ORIGIN]],
    ['a duplicate among three', () => [origin(1), origin(2), origin(1)]],
    ['a good one and a bad one', () => [ORIGIN, '/ip4/1.1.1.1/tcp/1']],
    // Parse, but name nothing Pinery may dial: only ip4/ip6/dns*, then tcp, then p2p.
    ['a unix socket', () => [`/unix/%2Fvar%2Frun%2Fdocker.sock/p2p/${PEER}`]],
    ['an in-memory address', () => [`/memory/x/p2p/${PEER}`]],
    ['a relay circuit', () => [`${ORIGIN}/p2p-circuit/p2p/${PEER}`]],
    ['a dnsaddr', () => [`/dnsaddr/example.com/p2p/${PEER}`]],
    ['bare udp', () => [`/ip4/1.1.1.1/udp/1/p2p/${PEER}`]],
    ['http over tcp', () => [`/ip4/1.1.1.1/tcp/80/http/p2p/${PEER}`]],
    ['tcp over tcp', () => [`/ip4/1.1.1.1/tcp/80/tcp/81/p2p/${PEER}`]],
    ['only a peer ID', () => [`/p2p/${PEER}`]],
    ['an ipcidr', () => [`/ip4/1.1.1.1/ipcidr/8/tcp/1/p2p/${PEER}`]],
    ['an onion address', () => [`/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:1234/p2p/${PEER}`]]
  ]
  for (const [what, origins] of badOrigins) {
    add('invalid origins', what, () => postJson({ cid: VALID, origins: origins() }), 400, /^origins\b/)
  }
}

// --- odd unicode where it cannot be accepted ------------------------------------------
{
  // In the body: names over 255 characters (counted as code points), meta keys with non-string values,
  // and CIDs; the details then echo the odd characters and must still be valid JSON.
  const names: Array<[string, string]> = [
    ['256 emoji', '🌲'.repeat(256)],
    ['256 RTL marks', '\u200f'.repeat(256)],
    ['256 NULs', '\u0000'.repeat(256)],
    ['37 ZWJ family emoji (259 code points)', '👨‍👩‍👧‍👦'.repeat(37)],
    ['128 e + combining acute (256 code points)', 'e\u0301'.repeat(128)]
  ]
  for (const [what, name] of names) {
    add('odd unicode', `name of ${what}`, () => postJson({ cid: VALID, name }), 400, /^name\b/)
  }
  // JSON.stringify would escape these the same way; written by hand to be sure of the wire form.
  add('odd unicode', 'name of 256 lone surrogates (JSON escapes)',
    () => post(`{"cid":"${VALID}","name":"${'\\ud800'.repeat(256)}"}`), 400, /^name\b/)
  for (const [what, key] of [['a lone surrogate', '\\ud800'], ['a NUL', '\\u0000'], ['an RTL override', '\\u202e'],
    ['an emoji', '\\ud83c\\udf32'], ['a BOM', '\\ufeff'], ['empty', '']]) {
    add('odd unicode', `meta key ${what} with a number value`,
      () => post(`{"cid":"${VALID}","meta":{"${key}":1}}`), 400, /^meta\b/)
  }
  add('odd unicode', '1001 emoji meta keys', () => postJson({
    cid: VALID, meta: Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`🌲${i}`, '🌲']))
  }), 400, /^meta\b/)
  for (const [what, cid] of [['a lone high surrogate', '\\ud800'], ['a lone low surrogate', '\\udfff'],
    ['a reversed surrogate pair', '\\udf32\\ud83c'], ['a trailing RTL override', `${VALID}\\u202e`],
    ['a BOM prefix', `\\ufeff${VALID}`], ['a NUL suffix', `${VALID}\\u0000`]]) {
    add('odd unicode', `cid with ${what}`, () => post(`{"cid":"${cid}"}`), 400, /^cid\b/)
  }
  // In query parameters (the values are percent-encoded UTF-8).
  const queries: Array<[string, string, RegExp]> = [
    ['name of 256 emoji', `name=${enc('🌲'.repeat(256))}`, /^name\b/],
    ['status with an RTL mark', `status=pinned${enc('\u200f')}`, /^status\b/],
    ['status with a NUL', 'status=pinned%00', /^status\b/],
    ['status as an emoji', `status=${enc('🌲')}`, /^status\b/],
    ['match with a zero-width space', `name=x&match=exact${enc('\u200b')}`, /^match\b/],
    ['limit in Arabic-Indic digits', `limit=${enc(arabicDigits('10'))}`, /^limit\b/],
    ['limit in fullwidth digits', `limit=${enc(fullwidth('10'))}`, /^limit\b/],
    ['before in fullwidth digits', `before=${enc(fullwidth('2020-01-01') + 'T00:00:00Z')}`, /^before\b/],
    ['after in Arabic-Indic digits', `after=${enc(arabicDigits('2020-01-01T00:00:00') + 'Z')}`, /^after\b/],
    ['cid as a UTF-8-encoded surrogate (invalid UTF-8)', 'cid=%ED%A0%80', /^cid\b/],
    ['cid as an emoji', `cid=${enc('🌲')}`, /^cid\b/],
    ['meta with a lone-surrogate key and a number value', `meta=${enc('{"\\ud800":1}')}`, /^meta\b/],
    ['meta with an RTL-override key and a null value', `meta=${enc('{"\u202e":null}')}`, /^meta\b/]
  ]
  for (const [what, query, details] of queries) add('odd unicode', `query: ${what}`, () => getPins(query), 400, details)
}

// --- GET /pins query parameters -------------------------------------------------------
{
  const eleven = (): string => Array.from({ length: 11 }, () => instantCid().toString()).join(',')
  const q: Array<[string, () => string, RegExp]> = [
    ['cid empty', () => 'cid=', /^cid\b/],
    ['cid a lone comma', () => 'cid=,', /^cid\b/],
    ['cid only commas', () => 'cid=,,,', /^cid\b/],
    ['cid a space', () => 'cid=%20', /^cid\b/],
    ['cid 11 CIDs', () => `cid=${eleven()}`, /^cid\b/],
    ['cid not a CID', () => 'cid=not-a-cid', /^cid\b/],
    ['cid %zz', () => 'cid=%zz', /^cid\b/],
    ['cid %', () => 'cid=%', /^cid\b/],
    ['cid repeated, one bad', () => `cid=${VALID}&cid=bad`, /^cid\b/],
    ['cid 3,000 characters', () => `cid=b${'a'.repeat(2999)}`, /^cid\b/],
    ['cid just Qm', () => 'cid=Qm', /^cid\b/],
    ['cid with a NUL', () => `cid=${VALID}%00`, /^cid\b/],
    ['name 256 characters', () => `name=${'n'.repeat(256)}`, /^name\b/],
    // Repeated parameters are joined with commas: "x," + 255 characters is too long.
    ['name repeated, 257 characters joined', () => `name=x&name=${'n'.repeat(255)}`, /^name\b/],
    ['match unknown', () => 'name=x&match=fuzzy', /^match\b/],
    ['match upper case', () => 'name=x&match=EXACT', /^match\b/],
    ['match empty', () => 'name=x&match=', /^match\b/],
    ['match repeated', () => 'name=x&match=exact&match=exact', /^match\b/],
    ['match a list', () => 'name=x&match=exact,partial', /^match\b/],
    ['match %zz', () => 'match=%zz', /^match\b/],
    ['match %', () => 'match=%', /^match\b/],
    ['status unknown', () => 'status=done', /^status\b/],
    ['status upper case', () => 'status=PINNED', /^status\b/],
    ['status empty', () => 'status=', /^status\b/],
    ['status with a trailing comma', () => 'status=pinned,', /^status\b/],
    ['status a lone comma', () => 'status=,', /^status\b/],
    ['status repeated, one unknown', () => 'status=pinned&status=bogus', /^status\b/],
    ['status %zz', () => 'status=%zz', /^status\b/],
    ['status %', () => 'status=%', /^status\b/],
    ['status separated by ;', () => 'status=pinned;failed', /^status\b/],
    ['limit 0', () => 'limit=0', /^limit\b/],
    ['limit -1', () => 'limit=-1', /^limit\b/],
    ['limit 1001', () => 'limit=1001', /^limit\b/],
    ['limit 1.5', () => 'limit=1.5', /^limit\b/],
    ['limit 1e3', () => 'limit=1e3', /^limit\b/],
    ['limit abc', () => 'limit=abc', /^limit\b/],
    ['limit empty', () => 'limit=', /^limit\b/],
    ['limit hex', () => 'limit=0x10', /^limit\b/],
    ['limit with a leading space', () => 'limit=%2010', /^limit\b/],
    ['limit with a trailing space', () => 'limit=10%20', /^limit\b/],
    ['limit with a plus sign', () => 'limit=%2B5', /^limit\b/],
    ['limit NaN', () => 'limit=NaN', /^limit\b/],
    ['limit Infinity', () => 'limit=Infinity', /^limit\b/],
    ['limit 10^23', () => 'limit=99999999999999999999999', /^limit\b/],
    ['limit repeated', () => 'limit=10&limit=20', /^limit\b/],
    ['limit %', () => 'limit=%', /^limit\b/],
    ['limit %zz', () => 'limit=%zz', /^limit\b/],
    ['limit with underscores', () => 'limit=1_000', /^limit\b/],
    ['meta not JSON', () => 'meta=app%3Da', /^meta\b/],
    ['meta a JSON array', () => `meta=${enc('["a"]')}`, /^meta\b/],
    ['meta JSON null', () => 'meta=null', /^meta\b/],
    ['meta a JSON number', () => 'meta=42', /^meta\b/],
    ['meta a JSON string', () => `meta=${enc('"s"')}`, /^meta\b/],
    ['meta JSON true', () => 'meta=true', /^meta\b/],
    ['meta with a number value', () => `meta=${enc('{"a":1}')}`, /^meta\b/],
    ['meta with an object value', () => `meta=${enc('{"a":{"b":"c"}}')}`, /^meta\b/],
    ['meta with a null value', () => `meta=${enc('{"a":null}')}`, /^meta\b/],
    ['meta with single quotes', () => `meta=${enc("{'a':'b'}")}`, /^meta\b/],
    ['meta truncated', () => `meta=${enc('{"a":')}`, /^meta\b/],
    ['meta with trailing garbage', () => `meta=${enc('{"a":"b"}x')}`, /^meta\b/],
    ['meta empty', () => 'meta=', /^meta\b/],
    ['meta %zz', () => 'meta=%zz', /^meta\b/],
    ['meta %', () => 'meta=%', /^meta\b/],
    ['meta with a BOM', () => `meta=${enc('\uFEFF{"a":"b"}')}`, /^meta\b/],
    ['meta 10,000 unclosed [ (unescaped)', () => `meta=${'['.repeat(10_000)}`, /^meta\b/],
    ['meta 5,000 levels of [ (unescaped)', () => `meta=${'['.repeat(5000)}${']'.repeat(5000)}`, /^meta\b/],
    ['meta given both ways', () => `meta=${enc('{"a":"b"}')}&meta%5Bc%5D=d`, /^meta\b/],
    ['meta given both ways, bracket form first', () => `meta[c]=d&meta=${enc('{"a":"b"}')}`, /^meta\b/],
    ['meta with a __proto__ key and a number value', () => `meta=${enc('{"__proto__":1}')}`, /^meta\b/]
  ]
  for (const [what, query, details] of q) add('query parameters', what, () => getPins(query()), 400, details)
  // before and after take the same timestamps; each of these is not RFC 3339 or not a real instant.
  const badTimes: Array<[string, string]> = [
    ['a word', 'yesterday'],
    ['a date only', '2020-07-27'],
    ['no offset', '2020-07-27T17:32:28.276'],
    ['month 13', '2020-13-01T00:00:00Z'],
    ['30 February', '2020-02-30T00:00:00Z'],
    ['hour 24', '2020-01-01T24:00:00Z'],
    ['minute 60', '2020-01-01T23:60:00Z'],
    ['a leap second', '2020-01-01T23:59:60Z'],
    ['offset +25:00', '2020-01-01T00:00:00%2B25:00'],
    ['offset +01 without minutes', '2020-01-01T00:00:00%2B01'],
    ['the basic format', '20200101T000000Z'],
    ['epoch milliseconds', '1595870548276'],
    ['a five-digit year', '12020-01-01T00:00:00Z'],
    ['empty', ''],
    ['%zz', '%zz'],
    ['repeated', '2020-01-01T00:00:00Z&{p}=2021-01-01T00:00:00Z']
  ]
  for (const param of ['before', 'after']) {
    for (const [what, value] of badTimes) {
      add('query parameters', `${param} ${what}`,
        () => getPins(`${param}=${value.replace('{p}', param)}`), 400, new RegExp(`^${param}\\b`))
    }
  }
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
/** HEAD requests: answered like GET, minus the body (see expectFailure). */
const HEAD_CASES: Array<{ what: string, path: string, auth?: null, status: 400 | 401 | 404 }> = [
  { what: 'HEAD /pins without a token', path: '/pins', auth: null, status: 401 },
  { what: 'HEAD /pins?limit=0', path: '/pins?limit=0', status: 400 },
  { what: 'HEAD /pins?status=bogus', path: '/pins?status=bogus', status: 400 },
  { what: 'HEAD /pins/%00', path: '/pins/%00', status: 400 },
  { what: 'HEAD /pins/{unknown requestid}', path: `/pins/${randomUUID()}`, status: 404 },
  { what: 'HEAD /no-such-route', path: '/no-such-route', status: 404 }
]

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

// ---------------------------------------------------------------------------
// Raw sockets: for what node:http will not send
// ---------------------------------------------------------------------------

interface RawResponse { status: number, headers: Record<string, string>, body: string }

/** A raw TCP connection to the service that parses the HTTP responses it reads. */
class RawConnection {
  readonly socket: Socket
  private buffer = Buffer.alloc(0)
  readonly responses: RawResponse[] = []
  closed = false

  constructor () {
    const { hostname, port } = new URL(svc.url)
    this.socket = connect(Number(port), hostname)
    this.socket.on('data', (d: Buffer) => { this.buffer = Buffer.concat([this.buffer, d]); this.parse() })
    this.socket.on('error', () => {}) // a reset after the server closes is expected; `closed` tells
    this.socket.on('close', () => { this.closed = true; this.parse() })
  }

  write (data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** Waits until `count` responses were read, or the connection closed, or `ms` passed. */
  async waitFor (count: number, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms
    while (this.responses.length < count && !this.closed && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 10))
    }
  }

  async waitClosed (ms = 5000): Promise<void> {
    const deadline = Date.now() + ms
    while (!this.closed && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
  }

  private parse (): void {
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n')
      if (end < 0) return
      const [statusLine = '', ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(':')
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
      }
      const status = Number(statusLine.split(' ')[1])
      let rest = this.buffer.subarray(end + 4)
      let body: Buffer
      if (headers['transfer-encoding'] === 'chunked') {
        const parts: Buffer[] = []
        for (;;) {
          const lineEnd = rest.indexOf('\r\n')
          if (lineEnd < 0) return
          const size = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16)
          if (rest.length < lineEnd + 2 + size + 2) return
          parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size))
          rest = rest.subarray(lineEnd + 2 + size + 2)
          if (size === 0) break
        }
        body = Buffer.concat(parts)
      } else if (headers['content-length'] != null) {
        const length = Number(headers['content-length'])
        if (rest.length < length) return
        body = rest.subarray(0, length)
        rest = rest.subarray(length)
      } else if (status === 417 || status < 200) {
        body = Buffer.alloc(0)
      } else {
        if (!this.closed) return // the body runs to the end of the connection
        body = rest
        rest = Buffer.alloc(0)
      }
      this.responses.push({ status, headers, body: body.toString('utf8') })
      this.buffer = rest
    }
  }

  destroy (): void { this.socket.destroy() }
}

const rawHead = (method: string, path: string, extra: string[] = []): string =>
  [`${method} ${path} HTTP/1.1`, `Host: ${new URL(svc.url).host}`, `Authorization: Bearer ${token()}`, ...extra, '', '']
    .join('\r\n')

/** Counts alice's pins in every state. */
async function countPins (user = 'alice'): Promise<number> {
  const res = await svc.request('/pins?status=queued,pinning,pinned,failed&limit=1000', { user })
  expect(res.status).toBe(200)
  return (await res.json() as { count: number }).count
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

/** Pins made before the barrage: plain, full, and with odd but legal unicode in name and meta. */
function prePins (): WirePin[] {
  return [
    { cid: instantCid().toString() },
    {
      cid: instantCid().toString(),
      name: 'report.pdf',
      origins: [origin(4001), origin(4002)],
      meta: { app_id: 'a1', team: 'x' }
    },
    {
      cid: instantCid().toString(base58btc),
      // A lone surrogate, an RTL mark, a zero-width joiner, emoji: legal JSON strings, stored and echoed as given
      // (a name's control characters and bidirectional overrides are refused: pins-bad-requests.test; meta keeps them).
      name: 'lone \ud800 rtl \u200f zwj \u200d tree 🌲 evil',
      meta: {
        '\u0000': 'nul', '\u202ertl': '\ud800', '🌲': '👨‍👩‍👧‍👦',
        ['__proto__']: 'proto', '': 'empty key'
      }
    },
    { cid: instantCid().toString(base36), name: '🌲'.repeat(255) }
  ]
}

describe('hostile input', () => {
  beforeAll(async () => {
    svc = await startService({ users: ['alice'], logs })
    pre = []
    for (const pin of prePins()) {
      const res = await svc.request('/pins', {
        method: 'POST', user: 'alice', headers: { 'content-type': 'application/json' }, body: JSON.stringify(pin)
      })
      expect(res.status, await res.clone().text()).toBe(202)
      const status = await res.json() as WirePinStatus
      expect(status.status).toBe('pinned')
      expect(status.pin).toStrictEqual(pin)
      pre.push(status)
    }
  })
  afterAll(async () => { await svc?.destroy() })

  /** Checks every pin made before the barrage is exactly as it was created, and no other pin exists. */
  async function expectPinsIntact (extra = 0): Promise<void> {
    for (const before of pre) {
      const res = await svc.request(`/pins/${before.requestid}`, { user: 'alice' })
      expect(res.status).toBe(200)
      const now = await res.json() as WirePinStatus
      expect({ requestid: now.requestid, created: now.created, pin: now.pin, status: now.status })
        .toStrictEqual({ requestid: before.requestid, created: before.created, pin: before.pin, status: before.status })
    }
    expect(await countPins('alice')).toBe(pre.length + extra)
    expect(await countPins('admin')).toBe(0)
  }

  describe('every malformed request gets a 4xx JSON Failure', () => {
    for (const c of HOSTILE) {
      it(`${c.category}: ${c.what} → ${c.status}`, async () => {
        const reply = await send(c.req())
        expectFailure(reply, c.status, c.details != null ? { details: c.details } : {})
      })
    }

    for (const c of HEAD_CASES) {
      it(`methods: ${c.what} → ${c.status}, no body`, async () => {
        const reply = await send({ method: 'HEAD', path: c.path, ...(c.auth === null ? { auth: null } : {}) })
        expectFailure(reply, c.status, { head: true })
      })
    }
  })

  describe('Content-Length mismatches and bodies over a raw socket', () => {
    it('a body longer than its Content-Length: the declared part is answered as broken JSON', async () => {
      const conn = new RawConnection()
      try {
        conn.write(rawHead('POST', '/pins', ['Content-Type: application/json', 'Content-Length: 5']) +
          `{"cid":"${VALID}"}`.slice(0, 5))
        await conn.waitFor(1)
        expect(conn.responses).toHaveLength(1)
        const first = conn.responses[0] as RawResponse
        expect(first.status).toBe(400)
        expect(first.headers['content-type']).toMatch(/^application\/json/)
        expect(expectFailureBody(first.body, 400, first.body)).toMatch(NOT_JSON)
        // The rest of the body arrives as the next "request": Node's parser refuses it, and the
        // server's clientError handler answers 400 with a Failure body and closes.
        conn.write(`{"cid":"${VALID}"}`.slice(5))
        await conn.waitClosed()
        expect(conn.closed).toBe(true)
        expect(conn.responses.map(r => r.status)).toEqual([400, 400])
        expectFailureBody(conn.responses[1]?.body ?? '', 400, 'the refused remainder')
      } finally {
        conn.destroy()
      }
    })

    it('Content-Length: 0 followed by a body: an empty body (no cid), then the rest is refused', async () => {
      const conn = new RawConnection()
      try {
        conn.write(rawHead('POST', '/pins', ['Content-Type: application/json', 'Content-Length: 0']))
        await conn.waitFor(1)
        const first = conn.responses[0] as RawResponse
        expect(first.status).toBe(400)
        expect(first.headers['content-type']).toMatch(/^application\/json/)
        expect(expectFailureBody(first.body, 400, first.body)).toMatch(/cid: is required/)
        conn.write(JSON.stringify({ cid: VALID }))
        await conn.waitClosed()
        expect(conn.closed).toBe(true)
        expect(conn.responses.map(r => r.status)).toEqual([400, 400])
      } finally {
        conn.destroy()
      }
    })

    it('a body shorter than its Content-Length: the service waits for the rest and meanwhile serves others',
      async () => {
        const conn = new RawConnection()
        try {
          conn.write(rawHead('POST', '/pins', ['Content-Type: application/json', 'Content-Length: 500']) +
            JSON.stringify({ cid: VALID }))
          await new Promise(resolve => setTimeout(resolve, 300))
          // HTTP gives the server no way to tell a slow client from a short body: it must not answer yet.
          expect(conn.responses).toHaveLength(0)
          expect(conn.closed).toBe(false)
          const other = await svc.request('/pins', { user: 'alice' })
          expect(other.status).toBe(200)
          await other.text()
        } finally {
          conn.destroy()
        }
      })

    it('a declared 10 GB body is refused with 413 at once, without waiting for it', async () => {
      const conn = new RawConnection()
      try {
        const started = Date.now()
        conn.write(rawHead('POST', '/pins', ['Content-Type: application/json', 'Content-Length: 10000000000']) +
          '{"cid": "')
        await conn.waitFor(1, 5000)
        expect(conn.responses).toHaveLength(1)
        expect(Date.now() - started).toBeLessThan(5000)
        const first = conn.responses[0] as RawResponse
        expect(first.status).toBe(413)
        expect(first.headers['content-type']).toMatch(/^application\/json/)
        expectFailureBody(first.body, 413, first.body)
      } finally {
        conn.destroy()
      }
    })

    it('a body on GET is ignored, and the connection stays usable for the next request', async () => {
      const conn = new RawConnection()
      try {
        conn.write(rawHead('GET', '/pins', ['Content-Type: application/json', 'Content-Length: 15']) +
          '{"garbage": [}}' +
          rawHead('GET', '/pins?limit=1', ['Connection: close']))
        await conn.waitClosed()
        expect(conn.responses.map(r => r.status)).toEqual([200, 200])
        expect(JSON.parse(conn.responses[0]?.body as string)).toMatchObject({ count: pre.length })
        expect((JSON.parse(conn.responses[1]?.body as string) as { results: unknown[] }).results).toHaveLength(1)
      } finally {
        conn.destroy()
      }
    })
  })

  // Broken framing is refused by Node's HTTP parser before Express ever sees the request; the
  // server's clientError handler answers 400 (431 for oversized headers) with a JSON Failure
  // body and closes. An unknown Expect gets Node's own 417 (no body, connection kept).
  describe('broken framing is refused before the app, still with a Failure body', () => {
    const host = (): string => `Host: ${new URL(svc.url).host}`
    const jsonHead = (...extra: string[]): string =>
      rawHead('POST', '/pins', ['Content-Type: application/json', ...extra])
    // `bare`: Node answers these itself after parsing, without the clientError hook (no body).
    const FRAMING: Array<{
      what: string
      bytes: () => string | Buffer
      status: number | null
      halfClose?: boolean
      bare?: boolean
    }> = [
      { what: 'Content-Length not a number', bytes: () => jsonHead('Content-Length: abc') + '{}', status: 400 },
      { what: 'a negative Content-Length', bytes: () => jsonHead('Content-Length: -1') + '{}', status: 400 },
      {
        what: 'Content-Length over 2^64',
        bytes: () => jsonHead('Content-Length: 99999999999999999999999') + '{}',
        status: 400
      },
      {
        what: 'two different Content-Lengths',
        bytes: () => jsonHead('Content-Length: 2', 'Content-Length: 3') + '{} ',
        status: 400
      },
      {
        what: 'Content-Length and chunked together',
        bytes: () => jsonHead('Content-Length: 2', 'Transfer-Encoding: chunked') + '2\r\n{}\r\n0\r\n\r\n',
        status: 400
      },
      {
        what: 'a body shorter than Content-Length, then the client stops sending',
        bytes: () => jsonHead('Content-Length: 500') + '{"cid": "',
        status: 400,
        halfClose: true
      },
      {
        what: 'a chunk size that is not hex',
        bytes: () => jsonHead('Transfer-Encoding: chunked') + 'zz\r\n{}\r\n0\r\n\r\n',
        status: 400
      },
      {
        what: 'Transfer-Encoding gzip without chunked',
        bytes: () => jsonHead('Transfer-Encoding: gzip') + '{}',
        status: 400
      },
      {
        what: 'a control character in the token',
        bytes: () => ['GET /pins HTTP/1.1', host(), 'Authorization: Bearer a\u0001b', '', ''].join('\r\n'),
        status: 400
      },
      { what: 'a NUL in a header', bytes: () => rawHead('GET', '/pins', ['X-Junk: a\u0000b']), status: 400 },
      {
        what: 'raw UTF-8 bytes in the path',
        bytes: () => Buffer.concat([
          Buffer.from('GET /pins/'), Buffer.from('ü🌲', 'utf8'), Buffer.from(` HTTP/1.1\r\n${host()}\r\n\r\n`)
        ]),
        status: 400
      },
      { what: 'a space in the path', bytes: () => rawHead('GET', '/pins/a b'), status: 400 },
      { what: 'an unknown method', bytes: () => rawHead('BREW', '/pins'), status: 400 },
      { what: 'a header line without a colon', bytes: () => rawHead('GET', '/pins', ['Garbage']), status: 400 },
      { what: 'a folded header line', bytes: () => rawHead('GET', '/pins', ['X-A: a', ' b']), status: 400 },
      { what: 'bare LF line endings', bytes: () => rawHead('GET', '/pins').replaceAll('\r\n', '\n'), status: 400 },
      {
        what: 'HTTP/1.1 without Host',
        bytes: () => ['GET /pins HTTP/1.1', `Authorization: Bearer ${token()}`, '', ''].join('\r\n'),
        status: 400,
        bare: true
      },
      // Node's default maxHeaderSize is 16 KiB: a 100 KB token never reaches authentication.
      {
        what: 'a 100 KB token',
        bytes: () =>
          ['GET /pins HTTP/1.1', host(), `Authorization: Bearer ${'a'.repeat(100_000)}`, '', ''].join('\r\n'),
        status: 431
      },
      { what: 'a 20 KB URL', bytes: () => rawHead('GET', `/pins?name=${'a'.repeat(20_000)}`), status: 431 },
      { what: 'an unknown Expect', bytes: () => rawHead('GET', '/pins', ['Expect: teapot']), status: 417 },
      // Without a 'connect' listener Node closes the connection without an answer.
      { what: 'CONNECT', bytes: () => rawHead('CONNECT', '127.0.0.1:1'), status: null }
    ]

    for (const c of FRAMING) {
      it(`${c.what} → ${c.status ?? 'closed without an answer'}`, async () => {
        const conn = new RawConnection()
        try {
          conn.write(c.bytes())
          if (c.halfClose === true) conn.socket.end()
          if (c.status === 417) await conn.waitFor(1)
          else await conn.waitClosed()
          if (c.status == null) {
            expect(conn.closed).toBe(true)
            expect(conn.responses).toHaveLength(0)
          } else {
            expect(conn.responses.map(r => r.status)).toEqual([c.status])
            const res = conn.responses[0] as RawResponse
            if (c.status !== 417 && c.bare !== true) {
              expect(res.headers['content-type']).toMatch(/^application\/json/)
              expectFailureBody(res.body, c.status, res.body)
            }
            if (c.status !== 417) expect(conn.closed).toBe(true)
          }
        } finally {
          conn.destroy()
        }
        const after = await svc.request('/pins?limit=1', { user: 'alice' })
        expect(after.status).toBe(200)
        await after.text()
      })
    }
  })

  describe('afterwards', () => {
    it('no request created, changed or removed a pin', async () => {
      await expectPinsIntact()
    })

    it('nothing was logged as an error (no unhandled exception, no 500)', () => {
      const lines = logs.map(l => JSON.parse(l) as { level: number, msg?: string, status?: number })
      // The log capture works: the pins made before the barrage were logged as requests (holds under -t too).
      expect(lines.filter(l => typeof l.status === 'number').length).toBeGreaterThanOrEqual(pre.length)
      expect(lines.filter(l => l.level >= 50)).toEqual([])
      expect(lines.filter(l => typeof l.status === 'number' && l.status >= 500)).toEqual([])
    })

    it('the scheme is case-insensitive: lowercase bearer (and BEARER, extra blanks) with a valid token works',
      async () => {
        for (const auth of [`bearer ${token()}`, `BEARER ${token()}`, `Bearer   ${token()}  `]) {
          const reply = await send({ path: '/pins', auth })
          expect(reply.status, auth.slice(0, 10)).toBe(200)
          expect(JSON.parse(reply.body)).toMatchObject({ count: pre.length })
        }
      })

    it('odd but legal requests are served: HEAD, a trailing slash, unknown or empty parameters', async () => {
      const head = await send({ method: 'HEAD', path: '/pins' })
      expect(head.status).toBe(200)
      expect(head.body).toBe('')
      for (const path of ['/pins/', '/pins?unknown=1&%=2&=&&&', '/pins?meta%5B%5D=x', `/pins/${preId()}/`]) {
        const reply = await send({ path })
        expect(reply.status, path).toBe(200)
        expect(reply.headers['content-type']).toMatch(/^application\/json/)
        JSON.parse(reply.body)
      }
    })

    it('a name query with a lone surrogate finds nothing, and no pin was matched by accident', async () => {
      // %ED%A0%80 is not UTF-8; it decodes to replacement characters, never to the stored "\ud800".
      const reply = await send({ path: `/pins?name=${enc('lone ')}%ED%A0%80&match=partial` })
      expect(reply.status).toBe(200)
      expect(JSON.parse(reply.body)).toEqual({ count: 0, results: [] })
    })

    it('the service is healthy: a normal POST /pins and GET /pins work', async () => {
      const health = await svc.request('/health', { user: null })
      expect(health.status).toBe(200)
      await health.text()
      const cid = instantCid().toString()
      const created = await svc.request('/pins', {
        method: 'POST',
        user: 'alice',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cid, name: 'after the barrage' })
      })
      expect(created.status).toBe(202)
      const status = await created.json() as WirePinStatus
      expect(status.status).toBe('pinned')
      expect(status.pin).toStrictEqual({ cid, name: 'after the barrage' })
      const list = await svc.request(`/pins?cid=${cid}`, { user: 'alice' })
      expect(list.status).toBe(200)
      const page = await list.json() as { count: number, results: WirePinStatus[] }
      expect(page.count).toBe(1)
      expect(page.results[0]?.requestid).toBe(status.requestid)
      const all = await svc.request('/pins?limit=1000', { user: 'alice' })
      expect(all.status).toBe(200)
      expect((await all.json() as { count: number }).count).toBe(pre.length + 1)
      // And the pins from before the barrage are still exactly as they were.
      await expectPinsIntact(1)
    })
  })
})
