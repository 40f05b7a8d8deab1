/**
 * Reference counting, replace and garbage collection: blocks of live pins
 * are never deleted; blocks nobody references are.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { blocksIn, startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import type { CID } from 'multiformats/cid'

describe('shared blocks, replace and garbage collection', () => {
  let service: TestService
  let o1: Origin
  let o2: Origin
  // A and B share their first 8 chunks (fixed-size chunking of a common prefix).
  let a: { cid: CID, blocks: CID[] }
  let b: { cid: CID, blocks: CID[] }
  const common = randomBytes(8 * 256 * 1024)

  beforeEach(async () => {
    [o1, o2, service] = await Promise.all([startOrigin(), startOrigin(), startService()])
    a = { cid: await o1.addFile(Buffer.concat([common, randomBytes(100_000)])), blocks: [] }
    b = { cid: await o2.addFile(Buffer.concat([common, randomBytes(300_000)])), blocks: [] }
    a.blocks = await blocksIn(o1.blockstore)
    b.blocks = await blocksIn(o2.blockstore)
  })
  afterEach(async () => {
    await service.destroy()
    await Promise.all([o1.stop(), o2.stop()])
  })

  const key = (c: CID): string => c.toString()
  const only = (x: CID[], y: CID[]): CID[] => x.filter(c => !y.some(d => key(d) === key(c)))
  const shared = (): CID[] => a.blocks.filter(c => b.blocks.some(d => key(d) === key(c)))

  async function present (cids: CID[]): Promise<boolean[]> {
    return await Promise.all(cids.map(async c => await service.pinery.node.helia.blockstore.has(c)))
  }
  async function expectAll (cids: CID[], there: boolean): Promise<void> {
    expect(cids.length).toBeGreaterThan(0)
    expect(await present(cids)).toEqual(cids.map(() => there))
  }
  async function pin (cid: CID, origin?: Origin): Promise<string> {
    const s = await service.client().pinsPost({
      pin: { cid: cid.toString(), ...(origin != null ? { origins: origin.addrs } : {}) }
    })
    await untilStatus(s.requestid, 'pinned')
    return s.requestid
  }
  async function untilStatus (requestid: string, status: string): Promise<void> {
    await waitFor(async () =>
      (await service.client().pinsRequestidGet({ requestid })).status === status ? true : undefined,
    30_000, `${requestid} ${status}`)
  }
  async function remove (requestid: string): Promise<void> {
    await service.client().pinsRequestidDelete({ requestid })
  }

  it.each([['A', 'B'], ['B', 'A']] as const)(
    'deleting %s then %s keeps the other intact until it goes, then collects everything',
    async (first, second) => {
      const dags = { A: a, B: b }
      const ids = { A: await pin(a.cid, o1), B: await pin(b.cid, o2) }
      await remove(ids[first])
      await service.pinery.gc.collect()
      // The blocks both DAGs share (there are some: expectAll refuses an empty list) stay for the other.
      await expectAll(shared(), true)
      await expectAll(dags[second].blocks, true)
      await expectAll(only(dags[first].blocks, dags[second].blocks), false)
      await remove(ids[second])
      await service.pinery.gc.collect()
      await expectAll([...a.blocks, ...b.blocks], false)
    }
  )

  it('re-pinning after a delete keeps counts right (Helia 7 pins.rm would lose shared blocks here)', async () => {
    const ra = await pin(a.cid, o1)
    const rb = await pin(b.cid, o2)
    await remove(ra)
    await pin(a.cid, o1)
    await remove(rb)
    await service.pinery.gc.collect()
    await expectAll(shared(), true)
    await expectAll(a.blocks, true)
  })

  it('reports what a collection freed in the metrics', async () => {
    const ra = await pin(a.cid, o1)
    await remove(ra)
    await service.pinery.gc.collect()
    const text = await (await service.request('/metrics', { user: null })).text()
    const value = (series: string): number =>
      Number(text.split('\n').find(l => l.startsWith(`${series} `))?.split(' ')[1])
    // The DAG's bytes, as the origin holds them; the start-up sweep may have run too.
    let size = 0
    for await (const { bytes } of o1.blockstore.getAll()) for await (const chunk of bytes) size += chunk.byteLength
    expect(value('pinery_gc_freed_bytes_total')).toBe(size)
    expect(value('pinery_gc_deleted_blocks_total')).toBe(a.blocks.length)
    expect(value('pinery_gc_runs_total')).toBeGreaterThanOrEqual(1)
  })

  it('two requests for one CID: the blocks stay until the last one is deleted', async () => {
    const r1 = await pin(a.cid, o1)
    const r2 = await pin(a.cid)
    await remove(r1)
    await service.pinery.gc.collect()
    await expectAll(a.blocks, true)
    await remove(r2)
    await service.pinery.gc.collect()
    await expectAll(a.blocks, false)
  })

  it('replace keeps the blocks common to both DAGs while the new one is fetched', async () => {
    const ra = await pin(a.cid, o1)
    await o1.stop()
    // o2 gives up the shared blocks: B can only complete if Pinery kept them.
    for (const c of shared()) await o2.blockstore.delete(c)
    const replaced = await service.client().pinsRequestidPost({ requestid: ra, pin: { cid: b.cid.toString() } })
    expect(replaced.requestid).not.toBe(ra)
    await expect(service.client().pinsRequestidGet({ requestid: ra })).rejects.toMatchObject({ status: 404 })
    // While the new pin waits for a provider, collections must not touch A's blocks.
    await service.pinery.gc.collect()
    await service.pinery.gc.collect()
    await expectAll(a.blocks, true)
    await o2.dial(replaced.delegates)
    await untilStatus(replaced.requestid, 'pinned')
    // The replaced CID's hold is released just after `pinned` is recorded (and visible): collect until it is.
    const aOnly = only(a.blocks, b.blocks)
    await expect.poll(async () => { await service.pinery.gc.collect(); return await present(aOnly) },
      { timeout: 10_000 }).toEqual(aOnly.map(() => false))
    await expectAll(shared(), true)
    await expectAll(only(b.blocks, shared()), true)
  })

  it('collects what a deleted, half-fetched request stored, without being asked', async () => {
    // o1 lacks one leaf, so the fetch stops part-way and stays pinning.
    const leaf = a.blocks.find(c => c.code === 0x55 && !b.blocks.some(d => key(d) === key(c))) as CID
    await o1.blockstore.delete(leaf)
    // Use up the start-up sweep so only the deletion itself can schedule the next one.
    await service.pinery.gc.collect()
    const s = await service.client().pinsPost({ pin: { cid: a.cid.toString(), origins: o1.addrs } })
    await waitFor(async () => {
      const st = await service.client().pinsRequestidGet({ requestid: s.requestid })
      return st.status === 'pinning' && /fetched [2-9]\d* blocks/.test(st.info?.status_details ?? '') ? true : undefined
    }, 30_000, 'a partial fetch')
    await remove(s.requestid)
    // The background collector runs every 200 ms in tests; nothing calls collect() here.
    await waitFor(async () => (await present(a.blocks)).every(p => !p) ? true : undefined,
      10_000, 'the half-fetched blocks to be collected')
  })

  it('a hold (a backup copying blocks) keeps every block until released; then they are collected', async () => {
    const id = await pin(a.cid, o1)
    const release = await service.pinery.gc.hold()
    await remove(id)
    expect(await service.pinery.gc.collect()).toBe(0)
    expect(await service.pinery.gc.discard(a.blocks)).toBe(0)
    await expectAll(a.blocks, true)
    release()
    release() // a second call changes nothing
    expect(await service.pinery.gc.collect()).toBe(a.blocks.length)
    await expectAll(a.blocks, false)
  })
})
