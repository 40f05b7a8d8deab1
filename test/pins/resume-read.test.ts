/**
 * Resuming reads the pending requests from their own key range: each pending
 * entry carries its record, so a start does not look records up all over the
 * store. Entries written before they carried the record (empty) are still
 * read, through the request's keys, in the same oldest-first order, and
 * rewritten with their records, so only the first start pays for them. And the
 * blockstore's synchronous check, which resuming protects stored blocks by,
 * sees what is stored.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openPinCore, type PinCore } from '../fixtures/pin-core.js'
import type { PinRecord } from '../../src/pins/types.js'

const pad = (n: number): string => n.toString().padStart(15, '0')
const pendingKey = (r: PinRecord): string => `/pinery/pending/${pad(r.created)}/${r.requestid}`

async function rawCid (text: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

describe('resuming pending requests', () => {
  let core: PinCore
  beforeEach(async () => { core = await openPinCore() })
  afterEach(async () => { await core.destroy() })

  it('reads them from the pending range alone, old entries without the record included, oldest first', async () => {
    const cid = await rawCid('a')
    const a = core.record('alice', cid)
    const b = core.record('bob', cid, { pin: { cid: cid.toString(), name: 'b', meta: { k: 'v' } } })
    const c = core.record('alice', cid, { status: 'pinning' })
    const done = core.record('bob', cid, { status: 'pinned', dagSize: 1 })
    for (const r of [a, b, c, done]) await core.records.write(r)
    const { db } = core.datastore
    // a's record is no longer anywhere but in its pending entry: read from there.
    await db.batch([
      { type: 'del', key: `/pinery/own/alice/${pad(a.created)}` },
      { type: 'del', key: `/pinery/req/${a.requestid}` }
    ])
    // b's entry as written before entries carried their record: read through its request's keys.
    await db.put(pendingKey(b), new Uint8Array(0))
    const read: PinRecord[] = []
    for await (const r of core.records.pending()) read.push(r)
    expect(read).toEqual([a, b, c])
    // Read once the old way, b's entry now carries its record: the next start reads only the range.
    expect(JSON.parse(new TextDecoder().decode(await db.get(pendingKey(b))))).toEqual(b)
  })

  it('tells synchronously which blocks are stored', async () => {
    const bytes = new TextEncoder().encode('stored')
    const stored = CID.createV1(raw.code, await sha256.digest(bytes))
    await core.store([{ cid: stored, bytes }])
    expect(core.blockstore.hasSync(stored)).toBe(true)
    expect(core.blockstore.hasSync(await rawCid('missing'))).toBe(false)
    // The same block under another CID version is the same file.
    expect(core.blockstore.hasSync(CID.createV0(await sha256.digest(bytes)))).toBe(true)
  })
})
