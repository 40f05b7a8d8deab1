/**
 * Restarting on the same data dir: records, created times and the peer ID
 * survive, a pin interrupted mid-fetch resumes and completes.
 */
import { Status } from '@ipfs-shipyard/pinning-service-client'
import { afterEach, describe, expect, it } from 'vitest'
import { blocksIn, startOrigin, type Origin } from '../fixtures/origin.js'
import { startService, waitFor, type TestService } from '../fixtures/service.js'
import { openDatastore } from '../../src/node/storage.js'
import { createRecordStore } from '../../src/pins/record-store.js'
import type { PinRecord } from '../../src/pins/types.js'

describe('restart', () => {
  let service: TestService | undefined
  let origin: Origin | undefined
  afterEach(async () => {
    await service?.destroy()
    await origin?.stop()
  })

  it('resumes a pin interrupted mid-fetch; records and peer ID are unchanged', async () => {
    origin = await startOrigin()
    const { cid } = await origin.addRandomFile(4)
    // Withhold half the leaves so the fetch stops half-way.
    const withheld: Array<{ cid: import('multiformats/cid').CID, bytes: Uint8Array }> = []
    for (const c of (await blocksIn(origin.blockstore)).filter(c => c.code === 0x55).slice(0, 8)) {
      const chunks: Uint8Array[] = []
      for await (const chunk of origin.blockstore.get(c)) chunks.push(chunk)
      withheld.push({ cid: c, bytes: Buffer.concat(chunks) })
      await origin.blockstore.delete(c)
    }

    service = await startService()
    const peerId = service.pinery.node.peerId
    const pinned = await service.client().pinsPost({ pin: { cid: 'bafkqaaa', name: 'identity' } })
    const interrupted = await service.client().pinsPost({
      pin: { cid: cid.toString(), name: 'big', origins: origin.addrs, meta: { k: 'v' } }
    })
    await waitFor(async () => {
      const s = await service?.client().pinsRequestidGet({ requestid: interrupted.requestid })
      return s?.status === 'pinning' && /fetched [1-9]\d* blocks/.test(s.info?.status_details ?? '') ? true : undefined
    }, 30_000, 'a partial fetch')
    await service.stop()

    for (const b of withheld) await origin.blockstore.put(b.cid, b.bytes)
    service = await startService({ dataDir: service.dataDir })
    expect(service.pinery.node.peerId).toBe(peerId)

    const again = await service.client().pinsRequestidGet({ requestid: pinned.requestid })
    expect(again.status).toBe('pinned')
    expect(again.created.toISOString()).toBe(pinned.created.toISOString())
    const resumed = await waitFor(async () => {
      const s = await service?.client().pinsRequestidGet({ requestid: interrupted.requestid })
      return s?.status === 'pinned' ? s : undefined
    }, 30_000, 'the resumed pin')
    expect(resumed.created.toISOString()).toBe(interrupted.created.toISOString())
    expect(resumed.pin).toEqual(interrupted.pin)

    // created keeps increasing across the restart.
    const later = await service.client().pinsPost({ pin: { cid: 'bafkqaaa' } })
    expect(later.created.getTime()).toBeGreaterThan(interrupted.created.getTime())
    const all = await service.client()
      .pinsGet({ status: [Status.Queued, Status.Pinning, Status.Pinned, Status.Failed] })
    expect(all.count).toBe(3)
  })
})

describe('start-up reconciliation', () => {
  it('releases a pin whose request vanished in a crash between the two writes, and collects its blocks', async () => {
    const origin = await startOrigin()
    let service = await startService()
    try {
      const { cid } = await origin.addRandomFile(1)
      const s = await service.client().pinsPost({ pin: { cid: cid.toString(), origins: origin.addrs } })
      await waitFor(async () =>
        (await service.client().pinsRequestidGet({ requestid: s.requestid })).status === 'pinned' ? true : undefined)
      await service.stop()
      // The crash: the record is gone, the Helia pin is not.
      const datastore = await openDatastore(service.dataDir)
      const records = await createRecordStore({ db: datastore.db })
      await records.remove(await records.get(s.requestid) as PinRecord)
      await datastore.close()

      service = await startService({ dataDir: service.dataDir })
      await service.pinery.gc.collect()
      expect(await service.pinery.node.helia.blockstore.has(cid)).toBe(false)
    } finally {
      await service.destroy()
      await origin.stop()
    }
  })
})
