/**
 * The links of a block, found without recursion. multiformats' `links()` walks a decoded block with nested
 * generators and copies the path at every level: O(depth × links), synchronously. A 2 MB dag-cbor block of
 * 250,000 links 2,000 arrays deep froze the whole service for 25 s when uploaded and 50 s per
 * `GET /ipfs/<cid>?format=car` (anyone's, with PINERY_GATEWAY_AUTH=none); 2,500 deep, which decodes, overflowed
 * the stack (500). Now one pass over the decoded value, in the same order.
 */
import { CarWriter } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { createUnsafe } from 'multiformats/block'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { blockLinks } from '../../src/pins/dag-walk.js'
import { startService, type TestService } from '../fixtures/service.js'
import type { BlockCodec } from 'multiformats/codecs/interface'

const codecs = new Map<number, BlockCodec<number, unknown>>([[dagCbor.code, dagCbor], [dagJson.code, dagJson],
  [dagPb.code, dagPb]] as Array<[number, BlockCodec<number, unknown>]>)
type Codec = BlockCodec<number, unknown>
const getCodec = async (code: number): Promise<Codec> => codecs.get(code) as Codec

async function rawCid (text: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(Buffer.from(text)))
}

/** A dag-cbor block: `depth` nested one-element arrays around `inner`. */
async function nested (depth: number, inner: unknown): Promise<{ cid: CID, bytes: Uint8Array }> {
  const core = dagCbor.encode(inner)
  const bytes = new Uint8Array(depth + core.length)
  bytes.fill(0x81, 0, depth) // a CBOR array of one element
  bytes.set(core, depth)
  return { cid: CID.createV1(dagCbor.code, await sha256.digest(bytes)), bytes }
}

describe('block links', () => {
  it('are those multiformats finds, in the same order, for every codec', async () => {
    const [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map(rawCid)) as [CID, CID, CID, CID]
    const values = [
      { x: [a, { y: b, z: [1, 'two', null, new Uint8Array(3)] }], w: c, v: { u: { t: [[d], a] } } },
      [[[a]], b, { c, nested: { deeper: [d, d] } }],
      a,
      { none: [1, 2, { three: 'x' }] }
    ]
    for (const [codec, value] of [...values.map(v => [dagCbor, v]), ...values.map(v => [dagJson, v])] as
      Array<[BlockCodec<number, unknown>, unknown]>) {
      const bytes = codec.encode(value)
      const cid = CID.createV1(codec.code, await sha256.digest(bytes))
      const expected = [...createUnsafe({ bytes, cid, codec }).links()].map(([, link]) => link.toString())
      expect((await blockLinks(cid, bytes, getCodec)).map(String)).toEqual(expected)
    }
    const pb = dagPb.encode({ Data: new Uint8Array([8, 1]), Links: [{ Hash: a, Name: 'a' }, { Hash: b, Name: 'b' }] })
    const pbCid = CID.createV1(dagPb.code, await sha256.digest(pb))
    expect((await blockLinks(pbCid, pb, getCodec)).map(String)).toEqual([a, b].map(String))
  })

  it('of a block nested as deep as it decodes are all found', async () => {
    const leaves = await Promise.all(['x', 'y', 'z'].map(rawCid))
    const { cid, bytes } = await nested(3_000, leaves)
    expect((await blockLinks(cid, bytes, getCodec)).map(String)).toEqual(leaves.map(String))
  })
})

describe('an uploaded block nested deep', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService() })
  afterAll(async () => { await svc.destroy() })

  it('is pinned with the blocks it links to', async () => {
    const leaf = Buffer.from('the leaf')
    const leafCid = CID.createV1(raw.code, await sha256.digest(leaf))
    const root = await nested(3_000, [leafCid])
    const { writer, out } = CarWriter.create([root.cid])
    const chunks: Uint8Array[] = []
    const read = (async () => { for await (const chunk of out) chunks.push(chunk) })()
    await writer.put(root)
    await writer.put({ cid: leafCid, bytes: leaf })
    await writer.close()
    await read
    const res = await svc.request('/content', {
      method: 'POST', headers: { 'content-type': 'application/vnd.ipld.car' }, body: Buffer.concat(chunks)
    })
    expect(res.status).toBe(202)
    const got = await svc.request(`/ipfs/${leafCid.toString()}`)
    expect(got.status).toBe(200)
    expect(Buffer.from(await got.arrayBuffer()).toString()).toBe('the leaf')
  })
})
