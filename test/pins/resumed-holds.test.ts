/**
 * The protections of requests resumed at start, at their seam: every stored block of a request's
 * DAG (and of the DAGs it holds) is protected, missing ones are not, and a release ends exactly
 * that request's protections.
 */
import { randomBytes } from 'node:crypto'
import toBuffer from 'it-to-buffer'
import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { createGcGuard } from '../../src/pins/gc-guard.js'
import { createLogger } from '../../src/logger.js'
import { createResumedHolds } from '../../src/pins/resumed-holds.js'
import { storeFile, tempBlockstore } from '../fixtures/gateway.js'
import type { PinRecord } from '../../src/pins/types.js'

const blocks = tempBlockstore('pinery-resumed-holds-')
const getCodec = async (code: number): Promise<never> => (code === raw.code ? raw : dagPb) as never

async function * each<T> (items: T[]): AsyncGenerator<T> { yield * items }

/** No CAR upload lists (their protection is tested with a real service: test/content/car-queued-restart). */
const noUploads = {
  uploads: { read: async () => [], forget: async () => {}, ids: async function * () {} },
  records: { get: async () => undefined, namesUpload: async () => false },
  onReleased: () => {},
  logger: createLogger({ level: 'silent' })
}

const record = (requestid: string, cid: CID, holds?: CID[]): PinRecord => ({
  requestid, owner: 'alice', cidKey: cid.toString(), status: 'queued',
  ...(holds != null ? { holds: holds.map(h => h.toString()) } : {})
}) as unknown as PinRecord

describe('resumed holds', () => {
  it('protects what each request has stored until its own release', async () => {
    const guard = createGcGuard()
    const holds = createResumedHolds({ stored: { blockstore: blocks.store, getCodec }, guard, ...noUploads })
    // A 4-leaf file (5 blocks), another file held during a replace, and a DAG nothing of which is stored.
    const file = await storeFile(blocks.store, randomBytes(4096))
    const held = await storeFile(blocks.store, randomBytes(1024))
    const missing = CID.createV1(raw.code, await sha256.digest(new Uint8Array([9])))
    const order: string[] = []
    await holds.protect(each([record('a', file, [held]), record('b', missing)]), (r) => { order.push(r.requestid) })
    expect(order).toEqual(['a', 'b'])
    const stored: CID[] = []
    for await (const { cid } of blocks.store.getAll()) stored.push(cid)
    expect(stored).toHaveLength(6)
    for (const cid of stored) expect(guard.isProtected(cid)).toBe(true)
    expect(guard.isProtected(missing)).toBe(false)
    holds.release('b')
    for (const cid of stored) expect(guard.isProtected(cid)).toBe(true)
    holds.release('a')
    for (const cid of stored) expect(guard.isProtected(cid)).toBe(false)
  })

  it('releases everything at once on stop, also past one batch of records', async () => {
    const guard = createGcGuard()
    const holds = createResumedHolds({ stored: { blockstore: blocks.store, getCodec }, guard, ...noUploads })
    const files = await Promise.all(Array.from({ length: 70 }, async (_, i) =>
      await storeFile(blocks.store, new Uint8Array([i, 1, 2, 3]))))
    const queued: string[] = []
    await holds.protect(each(files.map((cid, i) => record(`r${i}`, cid))), (r) => { queued.push(r.requestid) })
    expect(queued).toEqual(files.map((_, i) => `r${i}`))
    for (const cid of files) expect(guard.isProtected(cid)).toBe(true)
    holds.releaseAll()
    for (const cid of files) expect(guard.isProtected(cid)).toBe(false)
  })

  it('protects past a stored block that does not decode (torn by a crash, or damaged: verify)', async () => {
    // pinery verify --repair sends a DAG with a damaged root back to the queue: the service must still start,
    // and protect the rest; the fetch replaces the block (it is hashed before it is trusted).
    const guard = createGcGuard()
    const holds = createResumedHolds({ stored: { blockstore: blocks.store, getCodec }, guard, ...noUploads })
    const torn = await storeFile(blocks.store, randomBytes(4096))
    const leaves = dagPb.decode(await toBuffer(blocks.store.get(torn))).Links.map(l => l.Hash)
    await blocks.store.put(torn, new TextEncoder().encode('not this block'))
    const other = await storeFile(blocks.store, randomBytes(1024))
    const queued: string[] = []
    await holds.protect(each([record('torn', torn), record('other', other)]), (r) => { queued.push(r.requestid) })
    expect(queued).toEqual(['torn', 'other'])
    expect(guard.isProtected(torn)).toBe(true)
    expect(guard.isProtected(other)).toBe(true)
    expect(leaves.some(cid => guard.isProtected(cid))).toBe(false)
  })
})
