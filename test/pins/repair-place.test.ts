/**
 * Where a pin `pinery verify --repair` sends back to the queue waits: first among its owner's pending requests.
 * Its owner was told it is pinned, and it went back at its creation time's place, behind every request of its
 * owner's queued before it (old code). A real service in-process, stopped for the repair, over a real data dir.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { verifyDataDir } from '../../src/offline.js'
import { blocksOf, carOf, fileDag, postContent } from '../fixtures/content.js'
import { statusLine } from '../fixtures/pins-api.js'
import { startService, type TestService } from '../fixtures/service.js'

const ONE_SLOT = { PINERY_PIN_CONCURRENCY: '1', PINERY_STALL_TIMEOUT_MS: '600000' }
let service: TestService | undefined
afterEach(async () => { await service?.destroy(); service = undefined })

/** Pins a CID nobody has (its fetch holds the slot until the stall timeout) as alice. */
async function pinMissing (svc: TestService): Promise<string> {
  const cid = CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
  const res = await svc.call('POST', '/pins', 'alice', { cid })
  expect(res.status).toBe(202)
  return (await res.json() as { requestid: string }).requestid
}

describe('a pin sent back to the queue by verify --repair', () => {
  it("runs first among its owner's pending requests after the next start", async () => {
    service = await startService({ users: ['alice'], env: ONE_SLOT })
    const queued = [await pinMissing(service), await pinMissing(service), await pinMissing(service)]
    // Pinned after those were queued: a CAR upload of a DAG of three blocks.
    const blocks = await blocksOf(await fileDag(randomBytes(300 * 1024)))
    const root = blocks[0]?.cid as CID
    const res = await postContent(service, await carOf([root], blocks), { type: 'application/vnd.ipld.car' })
    const { requestid: repaired, status } = await res.json() as { requestid: string, status: string }
    expect(status).toBe('pinned')
    const { dataDir } = service
    await service.stop()

    // A leaf is lost; the repair sends the pin back to the queue.
    const store = new FsBlockstore(join(dataDir, 'blocks'))
    await store.open()
    await store.delete(blocks.at(-1)?.cid as CID)
    await store.close()
    expect((await verifyDataDir(dataDir, { requeue: true })).requeued).toBe(1)

    // Old code: the first queued pin took the slot and the repaired one read "queue position 3 of 3".
    service = await startService({ dataDir, users: ['alice'], env: ONE_SLOT })
    const svc = service
    expect(await statusLine(svc, repaired)).not.toMatch(/queue position/)
    // (The first was running when the service stopped: it says pinning.)
    expect(await Promise.all(queued.map(async id => (await statusLine(svc, id)).replace(/^\w+: /, '')))).toEqual([
      'queue position 1 of 3', 'queue position 2 of 3', 'queue position 3 of 3'
    ])
  })
})
