/**
 * Hostile input: invalid multiaddrs in origins, odd unicode, GET /pins query parameters. Every one is answered with
 * a 4xx and the spec's JSON Failure body; afterwards every pin made before is as it was. The barrage and its rules:
 * test/fixtures/hostile.ts.
 */
import {
  PEER, origin, ORIGIN, instantCid, VALID, post, postJson, getPins, fullwidth, arabicDigits, enc, caseTable,
  describeBarrage
} from '../fixtures/hostile.js'

const { cases, add } = caseTable()

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

describeBarrage('hostile input: invalid multiaddrs in origins…', cases)
