/**
 * POST /content of CARs against a real service: complete CARs pinned at once, broken ones refused keeping none
 * of their blocks, and a partial CAR completed over bitswap from its origins; stored blocks are checked against
 * the blockstore on disk.
 */
import { randomBytes } from 'node:crypto'
import toBuffer from 'it-to-buffer'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import { blocksOf, carOf, directoryDag, failureOf, fileDag, postContent, storedOf } from '../fixtures/content.js'
import { accepted, type WirePinStatus } from '../fixtures/pins-api.js'

describe('POST /content: CARs', () => {
  let svc: TestService
  // No background sweeps: what a failed upload leaves must be gone because it cleaned up after itself.
  beforeAll(async () => {
    svc = await startService({ users: ['alice', 'bob'], env: { PINERY_GC_INTERVAL_MS: '3600000' } })
  })
  afterAll(async () => { await svc.destroy() })

  it('pins each root of a complete CAR at once; a CAR of several roots answers {count, results}', async () => {
    const one = await fileDag(randomBytes(600 * 1024))
    const two = await directoryDag([
      { path: 'a.txt', bytes: new TextEncoder().encode('a') }, { path: 'b/c.txt', bytes: randomBytes(1000) }
    ])
    const car = await carOf([one.root, two.root], [...await blocksOf(one), ...await blocksOf(two)])
    const res = await postContent(svc, car, { type: 'application/vnd.ipld.car', query: { name: 'pair' } })
    const text = await res.text()
    expect(res.status, text).toBe(202)
    const body = JSON.parse(text) as { count: number, results: WirePinStatus[] }
    expect(body.count).toBe(2)
    expect(body.results.map(r => [r.pin.cid, r.status, r.pin.name]))
      .toEqual([[one.root.toString(), 'pinned', 'pair'], [two.root.toString(), 'pinned', 'pair']])
    const all = [...await blocksOf(one), ...await blocksOf(two)].map(b => b.cid)
    expect(await storedOf(svc, all)).toHaveLength(all.length)
    const c = await svc.request(`/ipfs/${two.root.toString()}/b/c.txt`, { user: 'bob' })
    expect(c.status).toBe(200)
  })

  it('refuses a CAR with one flipped byte (400) and keeps none of its blocks, but not the blocks other pins own',
    async () => {
      const shared = await fileDag(randomBytes(300 * 1024))
      await accepted(await postContent(svc, await carOf([shared.root], await blocksOf(shared)),
        { type: 'application/vnd.ipld.car' }))
      const fresh = await fileDag(randomBytes(900 * 1024))
      const freshBlocks = await blocksOf(fresh)
      const car = await carOf([fresh.root], [...await blocksOf(shared), ...freshBlocks])
      car.set([(car[car.byteLength - 7] as number) ^ 0x01], car.byteLength - 7) // inside the last block's bytes
      const failure = await failureOf(await postContent(svc, car, { type: 'application/vnd.ipld.car' }))
      expect(failure).toMatchObject({
        status: 400, reason: 'BAD_REQUEST', details: expect.stringMatching(/do not hash to its CID/)
      })
      expect(await storedOf(svc, freshBlocks.map(b => b.cid))).toEqual([])
      const sharedCids = (await blocksOf(shared)).map(b => b.cid)
      expect(await storedOf(svc, sharedCids)).toHaveLength(sharedCids.length)
      expect((await svc.request(`/ipfs/${shared.root.toString()}`, { user: 'alice' })).status).toBe(200)
    })

  it('refuses a truncated CAR (400) and keeps none of its blocks', async () => {
    const dag = await fileDag(randomBytes(800 * 1024))
    const blocks = await blocksOf(dag)
    const car = await carOf([dag.root], blocks)
    const failure = await failureOf(await postContent(svc, car.subarray(0, car.byteLength - 5000),
      { type: 'application/vnd.ipld.car' }))
    expect(failure).toMatchObject({
      status: 400, reason: 'BAD_REQUEST', details: expect.stringMatching(/not a valid CAR/)
    })
    expect(await storedOf(svc, blocks.map(b => b.cid))).toEqual([])
    const notCar = await failureOf(await postContent(svc, 'hello', { type: 'application/vnd.ipld.car' }))
    expect(notCar).toMatchObject({ status: 400, reason: 'BAD_REQUEST' })
  })

  it('refuses CARs with unsupported codecs or hashes, and blocks whose bytes do not decode', async () => {
    const { CID } = await import('multiformats/cid')
    const { create: createDigest } = await import('multiformats/hashes/digest')
    const odd = CID.createV1(0x0129 /* dag-json */, createDigest(0xb220 /* blake2b-256 */, new Uint8Array(32)))
    const badHash = await failureOf(await postContent(svc, await carOf([odd], []),
      { type: 'application/vnd.ipld.car' }))
    expect(badHash).toMatchObject({ status: 400, details: expect.stringMatching(/hash 0xb220/) })
    const { sha256 } = await import('multiformats/hashes/sha2')
    const junk = new TextEncoder().encode('not dag-pb')
    const fakePb = CID.createV1(0x70, await sha256.digest(junk))
    const undecodable = await failureOf(await postContent(svc, await carOf([fakePb], [{ cid: fakePb, bytes: junk }]),
      { type: 'application/vnd.ipld.car' }))
    expect(undecodable).toMatchObject({ status: 400, details: expect.stringMatching(/does not decode as dag-pb/) })
  })
})

describe('POST /content: a CAR that holds part of its DAG', () => {
  let svc: TestService | undefined
  let origin: Origin | undefined
  afterEach(async () => {
    await svc?.destroy()
    await origin?.stop()
    svc = origin = undefined
  })

  it('stores what it holds and fetches the rest over bitswap from the given origins', async () => {
    origin = await startOrigin()
    const { cid, bytes } = await origin.addRandomFile(2)
    const rootBlock = { cid, bytes: await toBuffer(origin.blockstore.get(cid)) }
    svc = await startService({ users: ['alice'] })
    const created = await accepted(await postContent(svc, await carOf([cid], [rootBlock]),
      { type: 'application/vnd.ipld.car', query: { origins: origin.addrs.join(',') } }))
    expect(created.pin.origins).toEqual(origin.addrs)
    expect(['queued', 'pinning', 'pinned']).toContain(created.status)
    const service = svc
    const settled = await waitFor(async () => {
      const s = await (await service.request(`/pins/${created.requestid}`, { user: 'alice' })).json() as WirePinStatus
      return s.status === 'pinned' || s.status === 'failed' ? s : undefined
    }, 30_000, 'the CAR\'s pin to settle')
    expect(settled.status).toBe('pinned')
    await origin.stop()
    origin = undefined
    const read = await svc.request(`/ipfs/${cid.toString()}`, { user: 'alice' })
    expect(Buffer.from(await read.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true)
  })
})
