/**
 * Bad input: 400 with the spec's Failure body for each bad body and query; 413, 415, 401, 404, 405.
 * Part of the conformance tests with the IPFS Pinning Service API v1.0.0; what they share and how they
 * pin is in test/fixtures/pins-api.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Configuration, RemotePinningServiceClient } from '@ipfs-shipyard/pinning-service-client'
import { startService, type TestService } from '../fixtures/service.js'
import {
  ALL_STATUSES, PEER, originAddr, instantCid, postText, addPin, getPin, listPins, expectFailure, clientFailure,
  type WirePinStatus
} from '../fixtures/pins-api.js'

/** A Pin body with a fresh CID followed by `fields`, as JSON text. */
const withCid = (fields: Record<string, unknown>): string => JSON.stringify({ cid: instantCid().toString(), ...fields })

/** Invalid Pin bodies: the raw text sent and a pattern the details must match (naming the field). */
const BAD_BODIES: Array<{ what: string, body: () => string, field: RegExp }> = [
  { what: 'missing cid', body: () => JSON.stringify({ name: 'x' }), field: /cid/ },
  { what: 'empty object', body: () => '{}', field: /cid/ },
  { what: 'non-string cid', body: () => JSON.stringify({ cid: 42 }), field: /cid/ },
  { what: 'null cid', body: () => JSON.stringify({ cid: null }), field: /cid/ },
  { what: 'invalid cid', body: () => JSON.stringify({ cid: 'not-a-cid' }), field: /cid/ },
  { what: 'empty cid', body: () => JSON.stringify({ cid: '' }), field: /cid/ },
  { what: 'name > 255 chars', body: () => withCid({ name: 'n'.repeat(256) }), field: /name/ },
  { what: 'non-string name', body: () => withCid({ name: 7 }), field: /name/ },
  { what: 'name with a terminal escape', body: () => withCid({ name: 'report\u001b[2J.pdf' }), field: /name/ },
  { what: 'name with a line break', body: () => withCid({ name: 'a\nb' }), field: /name/ },
  { what: 'name with a NUL', body: () => withCid({ name: 'a\u0000b' }), field: /name/ },
  { what: 'name with a C1 control', body: () => withCid({ name: 'a\u009bb' }), field: /name/ },
  { what: 'name with a right-to-left override', body: () => withCid({ name: 'invoice\u202efdp.exe' }), field: /name/ },
  { what: 'origins not an array', body: () => withCid({ origins: originAddr(1) }), field: /origins/ },
  {
    what: 'origins > 20',
    body: () => withCid({ origins: Array.from({ length: 21 }, (_, i) => originAddr(4001 + i)) }),
    field: /origins/
  },
  { what: 'duplicate origins', body: () => withCid({ origins: [originAddr(1), originAddr(1)] }), field: /origins/ },
  { what: 'origin not a multiaddr', body: () => withCid({ origins: ['not a multiaddr'] }), field: /origins/ },
  {
    what: 'origin with an unknown protocol',
    body: () => withCid({ origins: [`/ip4/127.0.0.1/nope/1/p2p/${PEER}`] }),
    field: /origins/
  },
  { what: 'origin without /p2p/', body: () => withCid({ origins: ['/ip4/127.0.0.1/tcp/4001'] }), field: /origins/ },
  {
    what: 'origin with a bad peer ID',
    body: () => withCid({ origins: ['/ip4/127.0.0.1/tcp/4001/p2p/QmNotAPeerId'] }),
    field: /origins/
  },
  { what: 'non-string origin', body: () => withCid({ origins: [1] }), field: /origins/ },
  { what: 'meta not an object', body: () => withCid({ meta: 'app=a' }), field: /meta/ },
  { what: 'meta an array', body: () => withCid({ meta: ['a'] }), field: /meta/ },
  { what: 'meta with a non-string value', body: () => withCid({ meta: { app: 1 } }), field: /meta/ },
  { what: 'meta with a nested object', body: () => withCid({ meta: { app: { id: 'a' } } }), field: /meta/ },
  {
    what: 'meta > 1000 entries',
    body: () => withCid({ meta: Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, 'v'])) }),
    field: /meta/
  },
  { what: 'malformed JSON', body: () => '{"cid": "bafy', field: /body|JSON/i },
  { what: 'empty body', body: () => '', field: /cid|body/ },
  { what: 'JSON array', body: () => JSON.stringify([{ cid: instantCid().toString() }]), field: /body/ },
  { what: 'JSON number', body: () => '42', field: /body/ },
  { what: 'JSON string', body: () => JSON.stringify(instantCid().toString()), field: /body/ },
  { what: 'JSON null', body: () => 'null', field: /body/ }
]

/** Invalid GET /pins queries and a pattern the details must match. */
const ELEVEN_CIDS = (): string => Array.from({ length: 11 }, () => instantCid().toString()).join(',')
const BAD_QUERIES: Array<{ what: string, query: () => string, field: RegExp }> = [
  { what: 'cid empty', query: () => 'cid=', field: /cid/ },
  { what: 'cid with an empty item', query: () => `cid=${instantCid().toString()},`, field: /cid/ },
  { what: '> 10 cids', query: () => `cid=${ELEVEN_CIDS()}`, field: /cid/ },
  { what: 'invalid cid', query: () => 'cid=not-a-cid', field: /cid/ },
  { what: 'status unknown', query: () => 'status=done', field: /status/ },
  { what: 'status list with an unknown one', query: () => 'status=pinned,bogus', field: /status/ },
  { what: 'status empty', query: () => 'status=', field: /status/ },
  { what: 'status in the wrong case', query: () => 'status=PINNED', field: /status/ },
  { what: 'match unknown', query: () => 'name=x&match=fuzzy', field: /match/ },
  { what: 'before not a timestamp', query: () => 'before=yesterday', field: /before/ },
  { what: 'before date only', query: () => 'before=2020-07-27', field: /before/ },
  { what: 'before without an offset', query: () => 'before=2020-07-27T17:32:28.276', field: /before/ },
  { what: 'before impossible date', query: () => 'before=2020-13-45T17:32:28Z', field: /before/ },
  { what: 'before a day its month lacks', query: () => 'before=2020-02-30T17:32:28Z', field: /before/ },
  { what: 'after an hour that does not exist', query: () => 'after=2020-02-03T24:32:28Z', field: /after/ },
  { what: 'after not a timestamp', query: () => 'after=1595870548276', field: /after/ },
  { what: 'after empty', query: () => 'after=', field: /after/ },
  { what: 'limit 0', query: () => 'limit=0', field: /limit/ },
  { what: 'limit 1001', query: () => 'limit=1001', field: /limit/ },
  { what: 'limit abc', query: () => 'limit=abc', field: /limit/ },
  { what: 'limit negative', query: () => 'limit=-1', field: /limit/ },
  { what: 'limit fractional', query: () => 'limit=1.5', field: /limit/ },
  { what: 'limit empty', query: () => 'limit=', field: /limit/ },
  { what: 'meta not JSON', query: () => 'meta=app%3Da', field: /meta/ },
  { what: 'meta a JSON array', query: () => `meta=${encodeURIComponent('["a"]')}`, field: /meta/ },
  { what: 'meta JSON null', query: () => 'meta=null', field: /meta/ },
  { what: 'meta with a non-string value', query: () => `meta=${encodeURIComponent('{"app":1}')}`, field: /meta/ },
  { what: 'meta given both ways', query: () => `meta=${encodeURIComponent('{"a":"b"}')}&meta%5Bc%5D=d`, field: /meta/ },
  { what: 'name > 255 chars', query: () => `name=${'n'.repeat(256)}`, field: /name/ }
]

describe('400 Bad Request', () => {
  let svc: TestService
  let target: WirePinStatus
  beforeAll(async () => {
    svc = await startService({ users: ['alice', 'rejects'] })
    target = await addPin(svc, 'alice', { cid: instantCid().toString(), name: 'replace target', meta: { keep: 'me' } })
  })
  afterAll(async () => { await svc?.destroy() })

  it.each(BAD_BODIES)('POST /pins with $what', async ({ body, field }) => {
    const countOf = async (): Promise<number> => (await listPins(svc, 'rejects', { status: ALL_STATUSES })).count
    const before = await countOf()
    const details = await expectFailure(await postText(svc, '/pins', body(), 'rejects'), 400, 'BAD_REQUEST')
    expect(details).toMatch(field)
    expect(await countOf(), 'a rejected request created a pin').toBe(before)
  })

  it.each(BAD_BODIES)('POST /pins/{requestid} with $what leaves the pin untouched', async ({ body, field }) => {
    const details = await expectFailure(
      await postText(svc, `/pins/${target.requestid}`, body(), 'alice'), 400, 'BAD_REQUEST')
    expect(details).toMatch(field)
    expect(await getPin(svc, 'alice', target.requestid)).toStrictEqual(target)
  })

  it.each(BAD_QUERIES)('GET /pins with $what', async ({ query, field }) => {
    const details = await expectFailure(await svc.request(`/pins?${query()}`, { user: 'alice' }), 400, 'BAD_REQUEST')
    expect(details).toMatch(field)
  })

  it('the official client gets 400 for an invalid CID', async () => {
    const res = await clientFailure(svc.client('rejects').pinsPost({ pin: { cid: 'not-a-cid' } }))
    expect((await expectFailure(res, 400, 'BAD_REQUEST'))).toMatch(/cid/)
  })

  it.each([
    { what: 'a word', body: { cid: 'hello' }, details: /^cid: "hello" is not a valid CID \(a CID looks like bafy/ },
    { what: 'only spaces', body: { cid: '   ' }, details: /^cid: must not be empty$/ },
    { what: 'a space inside', body: { cid: 'bafy kreia' }, details: /^cid: must not contain spaces$/ },
    { what: 'a bad origin', body: { cid: 'bafkqaaa', origins: ['nope'] }, details: /^origins\[0\]: / }
  ])('names what is wrong in words a person reads: $what', async ({ body, details }) => {
    const res = await postText(svc, '/pins', JSON.stringify(body), 'rejects')
    expect(await expectFailure(res, 400, 'BAD_REQUEST')).toMatch(details)
  })

  it.each([
    { what: 'too long', id: 'x'.repeat(129) },
    { what: 'non-ASCII', id: encodeURIComponent('ünïcode') }
  ])('a malformed requestid ($what) is 400 naming requestid', async ({ id }) => {
    expect(await expectFailure(await svc.request(`/pins/${id}`, { user: 'alice' }), 400, 'BAD_REQUEST'))
      .toMatch(/requestid/)
  })
})

// ---------------------------------------------------------------------------
// 413, 415, 401, 404, 405
// ---------------------------------------------------------------------------

describe('other errors', () => {
  let svc: TestService
  let target: WirePinStatus
  beforeAll(async () => {
    svc = await startService({ users: ['alice', 'bob'], env: { PINERY_MAX_BODY_BYTES: '2048' } })
    target = await addPin(svc, 'alice', { cid: instantCid().toString(), name: 'kept' })
  })
  afterAll(async () => { await svc?.destroy() })

  const bodyOfSize = (bytes: number): string => {
    const base = JSON.stringify({ cid: instantCid().toString(), meta: { pad: '' } })
    return JSON.stringify({ cid: instantCid().toString(), meta: { pad: 'x'.repeat(bytes - base.length) } })
  }

  describe('413 Payload Too Large', () => {
    it('refuses a body over PINERY_MAX_BODY_BYTES on create and on replace', async () => {
      const big = bodyOfSize(3000)
      expect(Buffer.byteLength(big)).toBe(3000)
      await expectFailure(await postText(svc, '/pins', big, 'bob'), 413, 'PAYLOAD_TOO_LARGE')
      await expectFailure(await postText(svc, `/pins/${target.requestid}`, big), 413, 'PAYLOAD_TOO_LARGE')
      expect(await getPin(svc, 'alice', target.requestid)).toStrictEqual(target)
      expect((await listPins(svc, 'bob', { status: ALL_STATUSES })).count).toBe(0)
    })

    it('accepts a body just under the limit', async () => {
      const ok = bodyOfSize(2000)
      expect(Buffer.byteLength(ok)).toBe(2000)
      const res = await postText(svc, '/pins', ok, 'bob')
      expect(res.status).toBe(202)
      const status = await res.json() as WirePinStatus
      await svc.request(`/pins/${status.requestid}`, { method: 'DELETE', user: 'bob' })
    })
  })

  describe('415 Unsupported Media Type', () => {
    const body = (): string => JSON.stringify({ cid: instantCid().toString() })

    it.each([
      { type: 'text/plain' },
      { type: 'application/x-www-form-urlencoded' },
      { type: 'multipart/form-data; boundary=xyz' },
      { type: 'application/jsonx' },
      { type: 'application/json; charset=latin1' }
    ])('refuses Content-Type $type on create and replace', async ({ type }) => {
      await expectFailure(await postText(svc, '/pins', body(), 'bob', type), 415, 'UNSUPPORTED_MEDIA_TYPE')
      await expectFailure(
        await postText(svc, `/pins/${target.requestid}`, body(), 'alice', type), 415, 'UNSUPPORTED_MEDIA_TYPE')
      expect(await getPin(svc, 'alice', target.requestid)).toStrictEqual(target)
      expect((await listPins(svc, 'bob', { status: ALL_STATUSES })).count).toBe(0)
    })

    it('refuses a body without any Content-Type', async () => {
      // A Uint8Array body makes fetch send no Content-Type at all.
      const res = await svc.request('/pins', { method: 'POST', user: 'bob', body: new TextEncoder().encode(body()) })
      await expectFailure(res, 415, 'UNSUPPORTED_MEDIA_TYPE')
    })

    it.each([
      { type: 'application/json; charset=utf-8' },
      { type: 'Application/JSON' },
      { type: 'application/vnd.pinery+json' }
    ])('accepts Content-Type $type', async ({ type }) => {
      const res = await postText(svc, '/pins', body(), 'bob', type)
      expect(res.status).toBe(202)
      const status = await res.json() as WirePinStatus
      await svc.request(`/pins/${status.requestid}`, { method: 'DELETE', user: 'bob' })
    })
  })

  describe('401 Unauthorized', () => {
    it.each([
      { what: 'no Authorization header', header: undefined },
      { what: 'an empty header', header: '' },
      { what: 'Basic credentials', header: 'Basic YWxpY2U6c2VjcmV0' },
      { what: 'Bearer without a token', header: 'Bearer' },
      { what: 'Bearer and a blank', header: 'Bearer ' },
      { what: 'a token without the scheme', header: 'pinery_sometoken' },
      { what: 'two tokens', header: 'Bearer a b' },
      { what: 'an unknown token', header: 'Bearer pinery_unknown-token' }
    ])('$what → 401 UNAUTHORIZED on every route', async ({ header }) => {
      const headers: Record<string, string> = header == null ? {} : { authorization: header }
      const requests: Array<[string, RequestInit]> = [
        ['/pins', {}],
        ['/pins', {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ cid: instantCid().toString() })
        }],
        [`/pins/${target.requestid}`, {}],
        [`/pins/${target.requestid}`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ cid: instantCid().toString() })
        }],
        [`/pins/${target.requestid}`, { method: 'DELETE' }],
        ['/no-such-route', {}]
      ]
      for (const [path, init] of requests) {
        const res = await svc.request(path, { headers, ...init, user: null })
        await expectFailure(res, 401, 'UNAUTHORIZED')
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
      }
      expect(await getPin(svc, 'alice', target.requestid)).toStrictEqual(target)
    })

    it('the official client with a wrong token gets 401', async () => {
      const bad = new RemotePinningServiceClient(
        new Configuration({ endpointUrl: svc.url, accessToken: 'pinery_wrong-token' }))
      const res = await clientFailure(bad.pinsGet())
      await expectFailure(res, 401, 'UNAUTHORIZED')
    })

    it('accepts the scheme in any case', async () => {
      const res = await svc.request('/pins',
        { user: null, headers: { authorization: `bearer ${svc.tokens.alice as string}` } })
      expect(res.status).toBe(200)
    })
  })

  it.each([
    { method: 'GET', path: '/index.html' }, // / itself is the web app
    { method: 'GET', path: '/pin' },
    { method: 'GET', path: '/pins/a/b' },
    { method: 'GET', path: '/api/v1/pins' },
    { method: 'POST', path: '/pinz' },
    { method: 'DELETE', path: '/pins/a/b' }
  ])('$method $path (unknown route) → 404 JSON', async ({ method, path }) => {
    await expectFailure(await svc.request(path, { method, user: 'alice' }), 404, 'NOT_FOUND')
  })

  it.each([
    { method: 'PUT', path: '/pins' },
    { method: 'PATCH', path: '/pins' },
    { method: 'DELETE', path: '/pins' },
    { method: 'PUT', path: '/pins/{id}' },
    { method: 'PATCH', path: '/pins/{id}' }
  ])('$method $path → 405 with Allow', async ({ method, path }) => {
    const res = await svc.request(path.replace('{id}', target.requestid), { method, user: 'alice' })
    const allow = res.headers.get('allow')
    await expectFailure(res, 405, 'METHOD_NOT_ALLOWED')
    expect(allow).toMatch(/GET/)
    expect(allow).toMatch(/POST/)
    expect(await getPin(svc, 'alice', target.requestid)).toStrictEqual(target)
  })
})
