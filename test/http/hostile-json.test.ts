/**
 * Hostile input: broken and deeply nested JSON, huge bodies, wrong types for every field, invalid CIDs. Every one is
 * answered with a 4xx and the spec's JSON Failure body; afterwards every pin made before is as it was. The barrage
 * and its rules: test/fixtures/hostile.ts.
 */
import { randomBytes } from 'node:crypto'
import { base32 } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import {
  LIMIT, ORIGIN, VALID, VALID_V0, preId, post, postJson, sized, fullwidth, caseTable, NOT_JSON, NOT_OBJECT,
  describeBarrage
} from '../fixtures/hostile.js'

const { cases, add } = caseTable()

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

describeBarrage('hostile input: broken and deeply nested JSON…', cases)
