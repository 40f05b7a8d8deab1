/**
 * Block requests of fetches, on a real service with a real Helia origin. A fetch shared by two owners' requests
 * for the same CID: the request of the owner who did not start it pins however the starter's request fares
 * (deleted mid-fetch, its block requests behind the starter's own backlog), and what it pinned is kept. The
 * stall timeout counts time a fetch waits for peers, not for Pinery's own block-request slots: a pin whose
 * origin has every block, behind its owner's fetches that stall, pins once they have failed, and does not fail
 * with "no connected peer provided the next block".
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { addRootsOnly, startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import { blocksOf, fileDag } from '../fixtures/content.js'
import { addPin, getPin, listPins } from '../fixtures/pins-api.js'
import type { CID } from 'multiformats/cid'

describe('block requests of fetches', () => {
  let service: TestService | undefined
  let origin: Origin | undefined
  afterEach(async () => {
    await service?.destroy()
    await origin?.stop()
    service = origin = undefined
  })

  /** Waits until `requestid` (of `user`) reads `status`, within `ms`. */
  async function reaches (user: string, requestid: string, status: string, ms: number): Promise<void> {
    const svc = service as TestService
    await waitFor(async () => (await getPin(svc, user, requestid)).status === status ? true : undefined,
      ms, `${user}'s request to be ${status}`)
  }

  /** Collects garbage now, then expects every block of the DAG in the service's blockstore. */
  async function kept (blocks: Array<{ cid: CID }>): Promise<void> {
    const svc = service as TestService
    await svc.pinery.gc.collect()
    for (const { cid } of blocks) expect(await svc.pinery.node.helia.blockstore.has(cid), cid.toString()).toBe(true)
  }

  it("pins the other owner's request when the starter deletes its own mid-fetch, and keeps its blocks", async () => {
    origin = await startOrigin()
    service = await startService({ users: ['alice', 'bob'] })
    const svc = service
    // Four leaves and a root; the last leaf reaches the origin only after alice's request is gone.
    const blocks = await blocksOf(await fileDag(randomBytes(4 * 256 * 1024)))
    const late = blocks.at(-1) as (typeof blocks)[number]
    for (const block of blocks.slice(0, -1)) await origin.node.helia.blockstore.put(block.cid, block.bytes)
    const cid = blocks[0]?.cid.toString() as string
    const alices = await addPin(svc, 'alice', { cid, origins: origin.addrs })
    const details = async (): Promise<string> =>
      (await getPin(svc, 'alice', alices.requestid)).info?.status_details ?? ''
    await waitFor(async () => /fetched [1-9]/.test(await details()) ? true : undefined, 20_000, 'the fetch under way')
    // bob's request joins alice's fetch (one walk per CID).
    const bobs = await addPin(svc, 'bob', { cid })
    await reaches('bob', bobs.requestid, 'pinning', 5000)
    expect((await svc.request(`/pins/${alices.requestid}`, { method: 'DELETE', user: 'alice' })).status).toBe(202)
    await origin.node.helia.blockstore.put(late.cid, late.bytes)
    await reaches('bob', bobs.requestid, 'pinned', 30_000)
    // The whole DAG is bob's (counted as his), alice's request is gone.
    const size = blocks.reduce((sum, b) => sum + b.bytes.byteLength, 0)
    expect((await getPin(svc, 'bob', bobs.requestid)).info?.dag_size).toBe(String(size))
    expect((await svc.request(`/pins/${alices.requestid}`, { user: 'alice' })).status).toBe(404)
    await kept(blocks)
  })

  it("pins the other owner's request at its own pace when the starter's block requests wait behind its backlog",
    async () => {
      origin = await startOrigin()
      const o = origin
      // alice's backlog: 20 DAGs whose roots the origin has and leaves it lacks; their fetches keep 4 block
      // requests each waiting for the 4 slots, each held until re-wanted (1 s).
      const dags = await addRootsOnly(o, 20)
      const dag = await fileDag(randomBytes(4 * 256 * 1024))
      const blocks = await blocksOf(dag)
      for (const block of blocks) await o.node.helia.blockstore.put(block.cid, block.bytes)
      service = await startService({
        users: ['alice', 'bob'],
        env: { PINERY_PIN_CONCURRENCY: '23', PINERY_FETCH_CONCURRENCY: '4', PINERY_REWANT_AFTER_MS: '1000' }
      })
      const svc = service
      for (const c of dags) await addPin(svc, 'alice', { cid: c.toString(), origins: o.addrs })
      const fetching = async (): Promise<number> => (await listPins(svc, 'alice', 'status=pinning&limit=1')).count
      await waitFor(async () => await fetching() === 20 ? true : undefined, 10_000, 'alice to fetch all 20')
      // alice pins the DAG too, and bob joins her fetch; then alice deletes hers.
      const cid = dag.root.toString()
      const alices = await addPin(svc, 'alice', { cid, origins: o.addrs })
      const started = Date.now()
      const bobs = await addPin(svc, 'bob', { cid, origins: o.addrs })
      await reaches('bob', bobs.requestid, 'pinning', 5000)
      expect((await svc.request(`/pins/${alices.requestid}`, { method: 'DELETE', user: 'alice' })).status).toBe(202)
      // As fast as had bob fetched it alone (old code: the fetch stayed in alice's lane, each block behind ~76 of
      // her waiting requests, ~19 s a block).
      await reaches('bob', bobs.requestid, 'pinned', 5000)
      expect(Date.now() - started).toBeLessThan(5000)
      await kept(blocks)
    })

  it('counts a stall only while a fetch asks peers, not while it waits for a block-request slot', async () => {
    origin = await startOrigin()
    const o = origin
    // 20 fetches that stall (4 leaves the origin lacks each, 80 block requests for the 4 slots), then a DAG the
    // origin has whole, from the same user: its requests wait behind the 80 in the user's lane, ~20 s a round.
    const stalling = await addRootsOnly(o, 20)
    const { cid } = await o.addRandomFile(1)
    service = await startService({
      users: ['alice'],
      env: {
        PINERY_PIN_CONCURRENCY: '22',
        PINERY_FETCH_CONCURRENCY: '4',
        PINERY_REWANT_AFTER_MS: '1000',
        PINERY_STALL_TIMEOUT_MS: '2000'
      }
    })
    const svc = service
    for (const c of stalling) await addPin(svc, 'alice', { cid: c.toString(), origins: o.addrs })
    const fetching = async (): Promise<number> => (await listPins(svc, 'alice', 'status=pinning&limit=1')).count
    await waitFor(async () => await fetching() === 20 ? true : undefined, 10_000, 'alice to fetch all 20')
    const { requestid } = await addPin(svc, 'alice', { cid: cid.toString(), origins: o.addrs })
    const settled = await waitFor(async () => {
      const s = await getPin(svc, 'alice', requestid)
      return s.status === 'pinned' || s.status === 'failed' ? s : undefined
    }, 60_000, 'the pin to settle')
    // Old code: failed after 2 s, "no progress for 2 s: no connected peer provided the next block", its
    // requests never sent.
    expect(settled.info?.status_details ?? '').toBe('')
    expect(settled.status).toBe('pinned')
    // The stalled ones fail too, each after 2 s of its own requests out unanswered (4 slots among 20 fetches:
    // each has one out about a fifth of the time, so they take longer than 2 s).
    const failed = await waitFor(async () => {
      const page = await listPins(svc, 'alice', 'status=failed&limit=1000')
      return page.count === 20 ? page : undefined
    }, 60_000, 'the stalled fetches to fail')
    for (const s of failed.results) expect(s.info?.status_details).toMatch(/^no progress for 2 s: /)
  })
})
