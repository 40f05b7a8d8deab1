/**
 * Quotas with real transfers: the pin limit, bytes charged once per distinct
 * CID, a DAG that outgrows the bytes left failing while others sharing its
 * fetch succeed (and its blocks collected), and usage after pin, replace and
 * delete. Then the quota module alone, over the real index, record store
 * and lifecycle: limits, charges, frees, and the serialisation of admits.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { blocksIn, dagSizeIn, startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { failure } from '../fixtures/errors.js'
import { openPinCore, type PinCore } from '../fixtures/pin-core.js'
import type { PinRecord } from '../../src/pins/types.js'
import type { QuotaWant } from '../../src/pins/quota.js'

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
    await service.request('/pins', {
      method: 'POST',
      user,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: cid.toString(), ...(origin != null ? { origins: origin.addrs } : {}) })
    })
  const settled = async (user: string, requestid: string): Promise<{
    status: string
    info?: { status_details?: string }
  }> =>
    await waitFor(async () => {
      const s = await (await service.request(`/pins/${requestid}`, { user })).json() as {
        status: string
        info?: { status_details?: string }
      }
      return s.status === 'pinned' || s.status === 'failed' ? s : undefined
    }, 30_000, `${requestid} settled`)
  const pin = async (user: string, cid: CID | string, origin?: Origin): Promise<{
    requestid: string
    status: string
    info?: { status_details?: string }
  }> => {
    const res = await post(user, cid, origin)
    expect(res.status).toBe(202)
    const { requestid } = await res.json() as { requestid: string }
    return { requestid, ...await settled(user, requestid) }
  }
  const usage = async (user: string): Promise<Usage> =>
    await (await service.request('/usage', { user })).json() as Usage

  it('refuses a pin past the pin limit with 409 INSUFFICIENT_FUNDS until one is deleted', async () => {
    for (const cid of ['bafkqaaa', 'bafkqaatine', 'bafkqaaa']) expect((await pin('alice', cid)).status).toBe('pinned')
    const refused = await post('alice', 'bafkqaaa')
    expect(refused.status).toBe(409)
    expect(await refused.json()).toEqual({
      error: { reason: 'INSUFFICIENT_FUNDS', details: 'pin limit reached: user alice has 3 of 3 pins' }
    })
    expect((await post('bob', 'bafkqaaa')).status).toBe(202)
    const list = await service.request('/pins', { user: 'alice' })
    const [first] = (await list.json() as { results: Array<{ requestid: string }> }).results
    expect((await service.request(`/pins/${first?.requestid}`, { method: 'DELETE', user: 'alice' })).status).toBe(202)
    expect((await post('alice', 'bafkqaaa')).status).toBe(202)
  })

  it('charges a CID once however many requests name it, and updates usage on pin, replace and delete', async () => {
    const first = await pin('alice', a.cid, origins[0])
    expect(first.status).toBe('pinned')
    expect(await usage('alice'))
      .toMatchObject({ bytes: a.size, cids: 1, pins: { pinned: 1 }, limits: { bytes: 3 * MIB, pins: 3 } })
    const second = await pin('alice', a.cid)
    expect(second.status).toBe('pinned')
    expect(await usage('alice')).toMatchObject({ bytes: a.size, cids: 1, pins: { pinned: 2 } })
    // Replacing one of two requests for A frees nothing, so B (2 MiB more) does not fit...
    const tooBig = await service.request(`/pins/${second.requestid}`, {
      method: 'POST',
      user: 'alice',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: b.cid.toString(), origins: origins[1]?.addrs })
    })
    expect(tooBig.status).toBe(202)
    const failed = await settled('alice', (await tooBig.json() as { requestid: string }).requestid)
    expect(failed.status).toBe('failed')
    expect(failed.info?.status_details).toMatch(/^storage quota exceeded/)
    expect(await usage('alice')).toMatchObject({ bytes: a.size, pins: { pinned: 1, failed: 1 } })
    // ...but replacing the only request for A frees A's bytes first.
    const replaced = await service.request(`/pins/${first.requestid}`, {
      method: 'POST',
      user: 'alice',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: b.cid.toString(), origins: origins[1]?.addrs })
    })
    expect(replaced.status).toBe(202)
    const now = await settled('alice', (await replaced.json() as { requestid: string }).requestid)
    expect(now.status).toBe('pinned')
    expect(await usage('alice')).toMatchObject({ bytes: b.size, cids: 1, pins: { pinned: 1, failed: 1 } })
    const list = await service.request('/pins?status=queued,pinning,pinned,failed', { user: 'alice' })
    const { results } = await list.json() as { results: Array<{ requestid: string }> }
    expect(results).toHaveLength(2)
    for (const r of results) await service.request(`/pins/${r.requestid}`, { method: 'DELETE', user: 'alice' })
    expect(await usage('alice')).toMatchObject({ bytes: 0, cids: 0, pins: { pinned: 0, failed: 0 } })
  })

  it('fails only the request over quota when users share a fetch, and collects what nobody pinned', async () => {
    await service.request('/users/alice', {
      method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ quota: { bytes: MIB } })
    })
    const [mine, theirs] = await Promise.all([pin('alice', a.cid, origins[0]), pin('bob', a.cid, origins[0])])
    expect(mine.status).toBe('failed')
    // Sizes as the Usage page shows them, the exact count beside (old code: "the 1048576 bytes left").
    expect(mine.info?.status_details)
      .toContain('the DAG grew past the 1 MiB (1,048,576 bytes) left of user alice\'s quota')
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
    await service.request('/users/alice', {
      method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ quota: { bytes: MIB } })
    })
    const res = await post('alice', a.cid)
    expect(res.status).toBe(409)
    const size = `${Number((a.size / MIB).toFixed(2))} MiB (${a.size.toLocaleString('en-US')} bytes)`
    expect(size).toMatch(/^[\d.]+ MiB \(\d,\d{3},\d{3} bytes\)$/)
    expect(await res.json()).toEqual({
      error: {
        reason: 'INSUFFICIENT_FUNDS',
        details: `storage quota exceeded: the DAG of ${size} does not fit in the 1 MiB (1,048,576 bytes) left ` +
          'of user alice\'s 1 MiB (1,048,576 bytes) quota'
      }
    })
    expect((await usage('alice')).pins).toEqual({ queued: 0, pinning: 0, pinned: 0, failed: 0 })
  })
})

describe('quota module', () => {
  let core: PinCore
  beforeEach(async () => { core = await openPinCore({ limits: { alice: { pins: 2, bytes: 1000 }, free: {} } }) })
  afterEach(async () => { await core.destroy() })

  const cidOf = (n: number): CID => CID.createV1(0x55, identity.digest(new Uint8Array([n])))
  /** Admits and writes a pinned request of `bytes` for `cid`, as the pin service would. */
  const pinned = async (owner: string, cid: CID, bytes: number, want: Partial<QuotaWant> = {}): Promise<PinRecord> =>
    await core.quota.admit(owner, { cidKey: cid.toV1().toString(), bytes, ...want }, async () => {
      const record = core.record(owner, cid, { status: 'pinned', dagSize: bytes })
      await core.lifecycle.create(record)
      return record
    })
  const funds = (details: RegExp): unknown => failure('InsufficientFundsError', details)
  const key = (n: number): string => cidOf(n).toV1().toString()
  /** Admits a request of unknown size, writing nothing. */
  const unsized = async (owner: string, cidKey: string): Promise<void> => {
    await core.quota.admit(owner, { cidKey }, async () => {})
  }

  it('lets an unlimited user through and refuses one that does not exist', async () => {
    for (let i = 0; i < 5; i++) await pinned('free', cidOf(i), 10_000)
    expect(await core.quota.remaining('free', 'x')).toBe(Infinity)
    await expect(pinned('ghost', cidOf(1), 1)).rejects.toMatchObject({ name: 'UnauthorizedError' })
    await expect(core.quota.remaining('ghost', 'x')).rejects.toMatchObject({ name: 'UnauthorizedError' })
  })

  it('counts live requests against the pin limit, failed ones not, and settling ones once', async () => {
    const first = await pinned('alice', cidOf(1), 1)
    await pinned('alice', cidOf(2), 1)
    await expect(pinned('alice', cidOf(3), 1)).rejects.toEqual(funds(/pin limit reached/))
    // A request that counts already (settling, replacing) is not a new one.
    const settling = await pinned('alice', cidOf(3), 1, { counted: true })
    await core.lifecycle.remove(settling.requestid)
    await core.lifecycle.remove(first.requestid)
    // One live request and one failed one: a second live one fits.
    await core.lifecycle.create(core.record('alice', cidOf(4), { status: 'failed', failure: 'x' }))
    await pinned('alice', cidOf(5), 1)
    await expect(pinned('alice', cidOf(6), 1)).rejects.toEqual(funds(/has 2 of 2 pins/))
    expect(core.index.usage('alice').counts).toMatchObject({ pinned: 2, failed: 1 })
  })

  it('charges a CID once, refuses what does not fit, and counts what a request frees', async () => {
    core.limits.set('alice', { bytes: 1000 })
    await pinned('alice', cidOf(1), 600)
    await pinned('alice', cidOf(1), 600) // the same CID again: no new charge
    expect(core.index.usage('alice').bytes).toBe(600)
    expect(await core.quota.remaining('alice', cidOf(2).toV1().toString())).toBe(400)
    expect(await core.quota.remaining('alice', cidOf(1).toV1().toString())).toBe(Infinity)
    await expect(pinned('alice', cidOf(2), 401)).rejects.toEqual(funds(/of 401 bytes does not fit in the 400 bytes/))
    // Letting go of cid 1 frees nothing while another request still names it...
    await expect(pinned('alice', cidOf(2), 900, { frees: [key(1)] })).rejects.toEqual(funds(/400 bytes left/))
    expect(await core.quota.remaining('alice', cidOf(2).toV1().toString(), [cidOf(1).toV1().toString()])).toBe(400)
    await pinned('alice', cidOf(2), 400)
    // ...and nothing is left: a DAG of unknown size is refused at once.
    await expect(unsized('alice', key(3))).rejects.toEqual(funds(/0 bytes left/))
  })

  it('charges a DAG pinned already its known size', async () => {
    core.limits.set('alice', { bytes: 1000 })
    const cid = cidOf(7)
    await core.dagPins.add(cid, [cid], 1500)
    await expect(unsized('alice', key(7)))
      .rejects.toEqual(funds(/of 1\.46 KiB \(1,500 bytes\) does not fit in the 1,000 bytes left/))
  })

  it('serialises an owner\'s admits: two that fit alone but not together, one wins', async () => {
    core.limits.set('alice', { bytes: 1000 })
    const order: string[] = []
    let release = (): void => {}
    const gate = new Promise<void>(resolve => { release = resolve })
    const admit = async (n: number): Promise<string> => {
      try {
        await core.quota.admit('alice', { cidKey: cidOf(n).toV1().toString(), bytes: 600 }, async () => {
          order.push(`commit ${n} start`)
          await gate
          const record = core.record('alice', cidOf(n), { status: 'pinned', dagSize: 600 })
          await core.lifecycle.create(record)
          order.push(`commit ${n} end`)
        })
        return 'admitted'
      } catch (err) {
        order.push(`refused ${n}`)
        return (err as Error).name
      }
    }
    const both = Promise.all([admit(1), admit(2)])
    // Both are in flight, the first one's write is held open: the second must wait for it, not check now.
    while (order.length === 0) await new Promise(resolve => setImmediate(resolve))
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(order).toEqual(['commit 1 start'])
    release()
    expect(await both).toEqual(['admitted', 'InsufficientFundsError'])
    expect(order).toEqual(['commit 1 start', 'commit 1 end', 'refused 2'])
  })

  it('retires a user only once admits in flight are done, refusing new ones meanwhile', async () => {
    const order: string[] = []
    let release = (): void => {}
    const gate = new Promise<void>(resolve => { release = resolve })
    const inFlight = core.quota.admit('alice', { cidKey: 'k', bytes: 1 }, async () => {
      order.push('admit start')
      await gate
      order.push('admit end')
    })
    while (order.length === 0) await new Promise(resolve => setImmediate(resolve))
    const retired = core.quota.retire('alice', async () => { order.push('retire work'); return 'gone' })
    await new Promise(resolve => setTimeout(resolve, 20))
    await expect(unsized('alice', 'k2')).rejects.toEqual(failure('UnauthorizedError', /being deleted/))
    expect(order).toEqual(['admit start'])
    release()
    await inFlight
    expect(await retired).toBe('gone')
    expect(order).toEqual(['admit start', 'admit end', 'retire work'])
    // Admits are let in again afterwards.
    await expect(core.quota.admit('alice', { cidKey: 'k3', bytes: 1 }, async () => 'ok')).resolves.toBe('ok')
  })
})
