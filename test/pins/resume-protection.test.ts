/**
 * A request resumed after a restart keeps what it holds from the first moment:
 * while it waits in a busy queue, garbage collection must not take the blocks
 * of its uploaded CAR that nobody else can send again.
 */
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { blocksOf, carOf, fileDag, postContent, storedOf } from '../fixtures/content.js'
import { startService, type TestService } from '../fixtures/service.js'

const BUSY = { PINERY_PIN_CONCURRENCY: '1', PINERY_STALL_TIMEOUT_MS: '600000', PINERY_GC_INTERVAL_MS: '3600000' }

/** A CID nobody has: its pin holds the only worker slot until the stall timeout. */
async function unobtainable (): Promise<string> {
  return CID.createV1(raw.code, await sha256.digest(randomBytes(32))).toString()
}

describe('requests resumed after a restart', () => {
  let svc: TestService | undefined
  afterEach(async () => { await svc?.destroy(); svc = undefined })

  it('protect the stored blocks of a queued CAR upload from garbage collection', async () => {
    svc = await startService({ users: ['alice'], env: BUSY })
    // The only slot is taken by a pin that cannot finish, so the upload below stays queued.
    const blocker = await svc.request('/pins', {
      method: 'POST',
      user: 'alice',
      body: JSON.stringify({ cid: await unobtainable() }),
      headers: { 'content-type': 'application/json' }
    })
    expect(blocker.status).toBe(202)
    const dag = await fileDag(randomBytes(3 * 256 * 1024 + 1000))
    const blocks = await blocksOf(dag)
    // The CAR lacks one leaf, so the request waits for origins to send it.
    const car = await carOf([dag.root], blocks.slice(0, -1))
    const res = await postContent(svc, car, { type: 'application/vnd.ipld.car' })
    expect(res.status).toBe(202)
    const { requestid, status } = await res.json() as { requestid: string, status: string }
    expect(status).toBe('queued')
    const held = blocks.slice(0, -1).map(b => b.cid)

    const dataDir = svc.dataDir
    await svc.stop()
    svc = await startService({ dataDir, users: ['alice'], env: BUSY })
    // Still waiting behind the blocker: the worker has not reached it, so only start-up protects it.
    const pin = await (await svc.request(`/pins/${requestid}`, { user: 'alice' })).json() as {
      status: string
      info?: { status_details?: string }
    }
    expect(pin.status).toBe('queued')
    expect(pin.info?.status_details).toMatch(/^queue position 1 of 1$/)
    await svc.pinery.gc.collect()
    expect(await storedOf(svc, held)).toHaveLength(held.length)
  })
})
