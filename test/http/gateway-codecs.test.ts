/**
 * /ipfs/ reads of a CID whose codec does not fit the bytes stored under its
 * multihash (the blockstore is keyed by multihash, so any codec names a
 * pinned block): a raw read gives the bytes, anything that must decode them
 * answers 406, and no answer is a 500 and no log line quotes the bytes.
 */
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import * as json from 'multiformats/codecs/json'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'
import { carOf, failureOf, postContent } from '../fixtures/content.js'

const SECRET = 'not json at all: SECRET-BYTES-7f3a'

describe('gateway reads across codecs', () => {
  const logs: string[] = []
  let svc: TestService
  let file: CID
  beforeAll(async () => {
    svc = await startService({ users: ['alice'], logs })
    const res = await postContent(svc, SECRET, { type: 'application/octet-stream' })
    expect(res.status).toBe(202)
    file = CID.parse((await res.json() as { pin: { cid: string } }).pin.cid)
  })
  afterAll(async () => { await svc?.destroy() })
  const get = async (path: string, accept?: string): Promise<Response> =>
    await svc.request(path, { user: 'alice', ...(accept != null ? { headers: { accept } } : {}) })

  it.each([
    ['dag-cbor', dagCbor.code],
    ['dag-json', dagJson.code],
    ['json', json.code],
    ['dag-pb', dagPb.code]
  ])(
    'a %s CID (codec %i) of pinned bytes that do not decode as it: raw gives the bytes, a decoded read or CAR is 406',
    async (_name, code) => {
      const cid = CID.createV1(code, file.multihash)
      for (const [path, accept] of [
        [`/ipfs/${cid}`, 'application/vnd.ipld.raw'], [`/ipfs/${cid}?format=raw`, undefined]
      ] as const) {
        const res = await get(path, accept)
        expect(res.status).toBe(200)
        expect(res.headers.get('content-type')).toBe('application/vnd.ipld.raw')
        expect(await res.text()).toBe(SECRET)
      }
      for (const [path, accept] of [
        [`/ipfs/${cid}`, 'application/vnd.ipld.car'], [`/ipfs/${cid}?format=car`, undefined],
        [`/ipfs/${cid}/a/b`, undefined]
      ] as const) {
        const failure = await failureOf(await get(path, accept))
        expect(failure, path).toMatchObject({ status: 406, reason: 'NOT_ACCEPTABLE' })
        expect(failure.details).toMatch(/application\/vnd\.ipld\.raw/)
        expect(failure.details).not.toContain('SECRET')
      }
      if (code !== dagPb.code) { // dag-pb bytes that are not UnixFS are served as their block (see gateway.ts)
        expect(await failureOf(await get(`/ipfs/${cid}`))).toMatchObject({ status: 406, reason: 'NOT_ACCEPTABLE' })
      }
      expect(logs.filter(l => l.includes('SECRET'))).toEqual([])
      expect(logs.filter(l => /"level":50/.test(l))).toEqual([])
    })

  it('a raw read of a valid dag-cbor block is its bytes; a CAR of it and its decoded form still work', async () => {
    const bytes = dagCbor.encode({ hello: 'world', link: file })
    const cid = CID.createV1(dagCbor.code, await sha256.digest(bytes))
    expect((await postContent(svc, await carOf([cid], [{ cid, bytes }]), { type: 'application/vnd.ipld.car' })).status)
      .toBe(202)
    const rawRes = await get(`/ipfs/${cid}`, 'application/vnd.ipld.raw')
    expect(Buffer.from(await rawRes.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true)
    const decoded = await get(`/ipfs/${cid}`)
    expect(decoded.headers.get('content-type')).toBe('application/vnd.ipld.dag-cbor')
    expect((await get(`/ipfs/${cid}?format=car`)).status).toBe(200)
  })
})
