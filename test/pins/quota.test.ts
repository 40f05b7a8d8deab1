/**
 * Quotas with real transfers: the pin limit, bytes charged once per distinct
 * CID, a DAG that outgrows the bytes left failing while others sharing its
 * fetch succeed (and its blocks collected), and usage after pin, replace and
 * delete.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { blocksIn, dagSizeIn, startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import type { CID } from 'multiformats/cid'

const MIB = 1024 * 1024
interface Usage { pins: Record<string, number>, bytes: number, cids: number, limits: Record<string, number> }

describe('quotas', () => {
  let service: TestService
  let origins: Origin[]
  // Two 2 MiB files on their own origins, so each origin's blocks are one DAG.
  let a: { cid: CID, size: number, blocks: CID[] }
  let b: { cid: CID, size: number, blocks: CID[] }

  beforeEach(async () => {
    origins = await Promise.all([startOrigin(), startOrigin()])
    const dags = await Promise.all(origins.map(async o => {
      const { cid } = await o.addRandomFile(2)
      return { cid, size: await dagSizeIn(o.blockstore), blocks: await blocksIn(o.blockstore) }
    }))
    ;[a, b] = dags as [typeof a, typeof b]
    service = await startService({ users: ['alice', 'bob'], quotas: { alice: { bytes: 3 * MIB, pins: 3 } } })
  })
  afterEach(async () => {
    await service.destroy()
    await Promise.all(origins.map(async o => { await o.stop() }))
  })

  const post = async (user: string, cid: CID | string, origin?: Origin): Promise<Response> =>
    await service.request('/pins', { method: 'POST', user, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cid: cid.toString(), ...(origin != null ? { origins: origin.addrs } : {}) }) })
  const settled = async (user: string, requestid: string): Promise<{ status: string, info?: { status_details?: string } }> =>
    await waitFor(async () => {
      const s = await (await service.request(`/pins/${requestid}`, { user })).json() as { status: string, info?: { status_details?: string } }
      return s.status === 'pinned' || s.status === 'failed' ? s : undefined
    }, 30_000, `${requestid} settled`)
  const pin = async (user: string, cid: CID | string, origin?: Origin): Promise<{ requestid: string, status: string, info?: { status_details?: string } }> => {
    const res = await post(user, cid, origin)
    expect(res.status).toBe(202)
    const { requestid } = await res.json() as { requestid: string }
    return { requestid, ...await settled(user, requestid) }
  }
  const usage = async (user: string): Promise<Usage> => await (await service.request('/usage', { user })).json() as Usage

  it('refuses a pin past the pin limit with 409 INSUFFICIENT_FUNDS until one is deleted', async () => {
    for (const cid of ['bafkqaaa', 'bafkqaatine', 'bafkqaaa']) expect((await pin('alice', cid)).status).toBe('pinned')
    const refused = await post('alice', 'bafkqaaa')
    expect(refused.status).toBe(409)
    expect(await refused.json()).toEqual({ error: { reason: 'INSUFFICIENT_FUNDS', details: 'pin limit reached: user alice has 3 of 3 pins' } })
    expect((await post('bob', 'bafkqaaa')).status).toBe(202)
    const [first] = (await (await service.request('/pins', { user: 'alice' })).json() as { results: Array<{ requestid: string }> }).results
    expect((await service.request(`/pins/${first?.requestid}`, { method: 'DELETE', user: 'alice' })).status).toBe(202)
    expect((await post('alice', 'bafkqaaa')).status).toBe(202)
  })

  it('charges a CID once however many requests name it, and updates usage on pin, replace and delete', async () => {
    const first = await pin('alice', a.cid, origins[0])
    expect(first.status).toBe('pinned')
    expect(await usage('alice')).toMatchObject({ bytes: a.size, cids: 1, pins: { pinned: 1 }, limits: { bytes: 3 * MIB, pins: 3 } })
    const second = await pin('alice', a.cid)
    expect(second.status).toBe('pinned')
    expect(await usage('alice')).toMatchObject({ bytes: a.size, cids: 1, pins: { pinned: 2 } })
    // Replacing one of two requests for A frees nothing, so B (2 MiB more) does not fit...
    const tooBig = await service.request(`/pins/${second.requestid}`, { method: 'POST', user: 'alice', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cid: b.cid.toString(), origins: origins[1]?.addrs }) })
    expect(tooBig.status).toBe(202)
    const failed = await settled('alice', (await tooBig.json() as { requestid: string }).requestid)
    expect(failed.status).toBe('failed')
    expect(failed.info?.status_details).toMatch(/^storage quota exceeded/)
    expect(await usage('alice')).toMatchObject({ bytes: a.size, pins: { pinned: 1, failed: 1 } })
    // ...but replacing the only request for A frees A's bytes first.
    const replaced = await service.request(`/pins/${first.requestid}`, { method: 'POST', user: 'alice', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cid: b.cid.toString(), origins: origins[1]?.addrs }) })
    expect(replaced.status).toBe(202)
    const now = await settled('alice', (await replaced.json() as { requestid: string }).requestid)
    expect(now.status).toBe('pinned')
    expect(await usage('alice')).toMatchObject({ bytes: b.size, cids: 1, pins: { pinned: 1, failed: 1 } })
    const { results } = await (await service.request('/pins?status=queued,pinning,pinned,failed', { user: 'alice' })).json() as { results: Array<{ requestid: string }> }
    expect(results).toHaveLength(2)
    for (const r of results) await service.request(`/pins/${r.requestid}`, { method: 'DELETE', user: 'alice' })
    expect(await usage('alice')).toMatchObject({ bytes: 0, cids: 0, pins: { pinned: 0, failed: 0 } })
  })

  it('fails only the request over quota when users share a fetch, and collects what nobody pinned', async () => {
    await service.request('/users/alice', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ quota: { bytes: MIB } }) })
    const [mine, theirs] = await Promise.all([pin('alice', a.cid, origins[0]), pin('bob', a.cid, origins[0])])
    expect(mine.status).toBe('failed')
    expect(mine.info?.status_details).toContain(`the DAG grew past the ${MIB} bytes left of user alice's quota`)
    expect(theirs.status).toBe('pinned')
    expect((await usage('alice')).bytes).toBe(0)
    expect((await usage('bob')).bytes).toBe(a.size)
    // Alone, alice's failed DAG leaves no block behind once collected.
    const lone = await pin('alice', b.cid, origins[1])
    expect(lone.status).toBe('failed')
    await service.pinery.gc.collect()
    const present = await Promise.all(b.blocks.map(async c => await service.pinery.node.helia.blockstore.has(c)))
    expect(present).toEqual(b.blocks.map(() => false))
    // The pin limit (3) counts live requests only: alice's two failed ones leave room for three.
    for (const cid of ['bafkqaaa', 'bafkqaatine', 'bafkqaaa']) expect((await post('alice', cid)).status).toBe(202)
    expect((await post('alice', 'bafkqaaa')).status).toBe(409)
  })

  it('refuses at once a DAG pinned already whose known size does not fit', async () => {
    expect((await pin('bob', a.cid, origins[0])).status).toBe('pinned')
    await service.request('/users/alice', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ quota: { bytes: MIB } }) })
    const res = await post('alice', a.cid)
    expect(res.status).toBe(409)
    expect(await res.json()).toEqual({ error: { reason: 'INSUFFICIENT_FUNDS', details: `storage quota exceeded: the DAG of ${a.size} bytes does not fit in the ${MIB} bytes left of user alice's ${MIB} byte quota` } })
    expect((await usage('alice')).pins).toEqual({ queued: 0, pinning: 0, pinned: 0, failed: 0 })
  })
})
