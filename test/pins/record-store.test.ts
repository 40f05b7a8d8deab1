/**
 * The record store on a real LevelDB: each write leaves exactly the keys of
 * the live records (no stale index entry after a replace, a transition or a
 * removal), references and the pending list follow the status, pending
 * comes out oldest first across owners (a replacement of a pending request
 * where that one was), the index is rebuilt on open, and
 * `created` keeps increasing across a reopen even when the stored clock
 * trails the newest record.
 */
import { randomUUID } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { openPinCore, type PinCore } from '../fixtures/pin-core.js'
import { createPinIndex } from '../../src/pins/query-index.js'
import { createRecordStore, type RecordStore } from '../../src/pins/record-store.js'
import { holding } from '../../src/pins/lifecycle.js'
import { queuePlace, type PinRecord } from '../../src/pins/types.js'

const CID_A = 'bafkqaaa'
const CID_B = 'bafkqaatine'

function rec (store: RecordStore, owner: string, cidKey: string, patch: Partial<PinRecord> = {}): PinRecord {
  const created = store.nextCreated()
  return { requestid: randomUUID(), owner, created, status: 'queued', pin: { cid: cidKey }, cidKey, ...patch }
}

/** Every key the store holds, without the clock. */
async function keys (core: PinCore): Promise<string[]> {
  const all: string[] = []
  for await (const key of core.datastore.db.keys({ gt: '/pinery/', lt: '/pinery/\xff' })) {
    if (key.startsWith('/pinery/own/') || key.startsWith('/pinery/req/') || key.startsWith('/pinery/ref/') ||
      key.startsWith('/pinery/pending/') || key.startsWith('/pinery/created/')) all.push(key)
  }
  return all.sort()
}

const pad = (n: number): string => n.toString().padStart(15, '0')

/** The keys the module comment says a record occupies. */
function expectedKeys (records: PinRecord[]): string[] {
  return records.flatMap(r => {
    const refs = new Set(r.holds ?? [])
    if (r.status !== 'failed') refs.add(r.cidKey)
    return [
      `/pinery/own/${r.owner}/${pad(r.created)}`, `/pinery/req/${r.requestid}`, `/pinery/created/${pad(r.created)}`,
      ...[...refs].map(c => `/pinery/ref/${c}/${r.requestid}`),
      ...(r.status === 'queued' || r.status === 'pinning'
        ? [`/pinery/pending/${pad(queuePlace(r))}/${r.requestid}`]
        : [])
    ]
  }).sort()
}

async function pending (store: RecordStore): Promise<string[]> {
  const ids: string[] = []
  for await (const r of store.pending()) ids.push(r.requestid)
  return ids
}

describe('record store', () => {
  let core: PinCore
  beforeEach(async () => { core = await openPinCore() })
  afterEach(async () => { await core.destroy() })

  it('keeps exactly the keys of the live records through create, transition, replace and remove', async () => {
    const { records } = core
    const a = rec(records, 'alice', CID_A)
    const b = rec(records, 'bob', CID_A, { status: 'pinning' })
    await records.write(a)
    await records.write(b)
    expect(await keys(core)).toEqual(expectedKeys([a, b]))
    expect(await records.get(a.requestid)).toEqual(a)

    // queued → pinned: leaves pending, keeps its reference.
    const aPinned: PinRecord = { ...a, status: 'pinned', dagSize: 3 }
    await records.write(aPinned, a)
    expect(await keys(core)).toEqual(expectedKeys([aPinned, b]))

    // Replace: the old record and all its entries go in the same batch as the new one is written.
    const c = rec(records, 'alice', CID_B, { holds: [CID_A] })
    await records.write(c, undefined, aPinned)
    expect(await keys(core)).toEqual(expectedKeys([b, c]))
    expect(await records.get(aPinned.requestid)).toBeUndefined()

    // A failed record references what it holds only.
    const bFailed: PinRecord = { ...b, status: 'failed', failure: 'no' }
    await records.write(bFailed, b)
    expect(await keys(core)).toEqual(expectedKeys([bFailed, c]))

    await records.remove(c)
    await records.remove(bFailed)
    expect(await keys(core)).toEqual([])
    expect(core.index.size()).toBe(0)
  })

  it('keeps a replacement of a pending request where that one was in the pending range, until it settles', async () => {
    const { records, lifecycle } = core
    const [a, b, c] = [rec(records, 'alice', CID_A), rec(records, 'alice', CID_A), rec(records, 'bob', CID_B)]
    for (const r of [a, b, c]) await lifecycle.create(r)
    const pinning = await lifecycle.transition(a, 'pinning') as PinRecord
    // Replaced twice (a restart, then another): each takes the place of the one before.
    const a2 = await lifecycle.replace(a.requestid, old => holding(old, rec(records, 'alice', CID_B))) as PinRecord
    const a3 = await lifecycle.replace(a2.requestid, old => holding(old, rec(records, 'alice', CID_B))) as PinRecord
    expect([pinning.status, a2.queuedAt, a3.queuedAt]).toEqual(['pinning', a.created, a.created])
    expect(await pending(records)).toEqual([a3.requestid, b.requestid, c.requestid])
    expect(await keys(core)).toEqual(expectedKeys([a3, b, c]))
    // Settled, it holds no place; a replacement of a settled request is a new one, at the back.
    const settled = await lifecycle.transition(a3, 'failed', { failure: 'no' }) as PinRecord
    expect(settled.queuedAt).toBeUndefined()
    expect((await records.get(a3.requestid))?.queuedAt).toBeUndefined()
    const a4 = await lifecycle.replace(a3.requestid, old => holding(old, rec(records, 'alice', CID_A))) as PinRecord
    expect(a4.queuedAt).toBeUndefined()
    expect(await pending(records)).toEqual([b.requestid, c.requestid, a4.requestid])
    expect(await keys(core)).toEqual(expectedKeys([b, c, a4]))
  })

  it('rewrites only what a change of state changes: the record and its pending entry, not its other keys', async () => {
    const { records } = core
    const a = rec(records, 'alice', CID_A)
    await records.write(a)
    const batch = vi.spyOn(core.datastore.db, 'batch')
    const aPinned: PinRecord = { ...a, status: 'pinned', dagSize: 3 }
    await records.write(aPinned, a)
    const calls = batch.mock.calls as unknown as Array<[Array<{ type: string, key: string }>]>
    const ops = calls[0]?.[0] ?? []
    batch.mockRestore()
    expect(ops.map(op => `${op.type} ${op.key}`).filter(op => !op.endsWith('/pinery/generation')).sort()).toEqual([
      `del /pinery/pending/${pad(a.created)}/${a.requestid}`,
      `put /pinery/own/alice/${pad(a.created)}`
    ])
    expect(await keys(core)).toEqual(expectedKeys([aPinned]))
    expect(await records.get(a.requestid)).toEqual(aPinned)
  })

  it('says whether a live request references a CID, through its own CID or what it holds', async () => {
    const { records } = core
    expect(await records.isReferenced(CID_A)).toBe(false)
    const holder = rec(records, 'alice', CID_B, { holds: [CID_A] })
    await records.write(holder)
    expect(await records.isReferenced(CID_A)).toBe(true)
    expect(await records.isReferenced(CID_B)).toBe(true)
    const failed: PinRecord = { ...holder, status: 'failed', failure: 'x' }
    delete failed.holds
    await records.write(failed, holder)
    expect(await records.isReferenced(CID_A)).toBe(false)
    expect(await records.isReferenced(CID_B)).toBe(false)
    // A prefix of a referenced CID is not referenced.
    await records.write(rec(records, 'alice', `${CID_A}x`))
    expect(await records.isReferenced(CID_A)).toBe(false)
  })

  it('lists pending records oldest first across owners, without settled ones', async () => {
    const { records } = core
    const made = [
      rec(records, 'zoe', CID_A), rec(records, 'alice', CID_B, { status: 'pinning' }),
      rec(records, 'bob', CID_A, { status: 'pinned', dagSize: 1 }), rec(records, 'alice', CID_A)
    ]
    // Written out of order: pending order is by created, not by write order.
    for (const r of [...made].reverse()) await records.write(r)
    expect(await pending(records)).toEqual([made[0], made[1], made[3]].map(r => r?.requestid))
  })

  it('imports many records in one batch, indexed', async () => {
    const { records } = core
    const owner = (i: number): string => i % 2 === 0 ? 'alice' : 'bob'
    const many = Array.from({ length: 50 }, (_, i) => rec(records, owner(i), CID_A, { status: 'pinned', dagSize: 1 }))
    await records.importMany(many)
    expect(await keys(core)).toEqual(expectedKeys(many))
    expect(core.index.usage('alice').counts.pinned).toBe(25)
  })

  it('rebuilds the index and keeps created increasing across a reopen, even past a clock that trails', async () => {
    const { records } = core
    const early = rec(records, 'alice', CID_A)
    await records.write(early)
    // A record created later than the stored clock (concurrent batches may land out of order).
    const ahead = { ...rec(records, 'alice', CID_B), created: Date.now() + 86_400_000 }
    await records.write(ahead)
    await core.close()

    core = await openPinCore({ dir: core.dir })
    expect(core.index.size()).toBe(2)
    expect(core.index.usage('alice').counts.queued).toBe(2)
    const next = core.records.nextCreated()
    expect(next).toBeGreaterThan(ahead.created)
    expect(core.records.nextCreated()).toBeGreaterThan(next)
    expect(await pending(core.records)).toEqual([early.requestid, ahead.requestid])
  })

  it('works without an index', async () => {
    const store = await createRecordStore({ db: core.datastore.db })
    const r = rec(store, 'alice', CID_A)
    await store.write(r)
    expect(await store.get(r.requestid)).toEqual(r)
    // The core's own index was not told: only the store that wrote knows.
    expect(core.index.size()).toBe(0)
    const index = createPinIndex()
    await createRecordStore({ db: core.datastore.db, index })
    expect(index.size()).toBe(1)
  })
})
