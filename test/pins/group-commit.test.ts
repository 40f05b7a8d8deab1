/**
 * Group commit on a real LevelDB: batches handed in while a write is in
 * progress land together in one write, each caller resolved only once its own
 * operations are stored, fsynced when any batch of the group asks for it;
 * a failing batch fails only its own caller, and a group stays under its
 * operation bound, and at most `maxWrites` writes are in progress at once.
 * The record store writes through it: concurrent changes
 * cost fewer LevelDB writes than changes.
 */
import { randomUUID } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { openPinCore, type PinCore } from '../fixtures/pin-core.js'
import { createGroupCommit } from '../../src/pins/group-commit.js'
import { createRecordStore } from '../../src/pins/record-store.js'
import type { ExtraOp } from '../../src/pins/record-store.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('group commit', () => {
  let core: PinCore
  let writes: Array<{ ops: number, sync: boolean }>
  beforeEach(async () => { core = await openPinCore(); writes = [] })
  afterEach(async () => { await core.destroy() })

  function grouped (maxOps = 1000, maxWrites = 1): ReturnType<typeof createGroupCommit<ExtraOp>> {
    return createGroupCommit<ExtraOp>({ maxOps, maxWrites }, {
      writeBatch: async (ops, sync) => {
        writes.push({ ops: ops.length, sync })
        await core.datastore.db.batch(ops, { sync })
      }
    })
  }

  it('writes concurrent batches together, resolving each once its own operations are stored', async () => {
    const group = grouped()
    const seen: boolean[] = []
    await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const key = `/test/k${i}`
      await group.write([
        { type: 'put', key, value: bytes(`v${i}`) },
        { type: 'put', key: `${key}/b`, value: bytes('b') }
      ], i % 2 === 0)
      seen.push(await core.datastore.db.get(key) != null && await core.datastore.db.get(`${key}/b`) != null)
    }))
    expect(seen).toEqual(Array.from({ length: 50 }, () => true))
    // The first goes alone; the rest wait for it and go together.
    expect(writes.length).toBeLessThan(10)
    expect(writes.reduce((n, w) => n + w.ops, 0)).toBe(100)
    // Any batch asking for an fsync makes its group's write fsynced.
    expect(writes.every(w => w.sync)).toBe(true)
  })

  it('skips the fsync only when no batch of the group asks for it', async () => {
    const group = grouped()
    await Promise.all([1, 2, 3].map(async i => {
      await group.write([{ type: 'put', key: `/test/n${i}`, value: bytes('x') }], false)
    }))
    expect(writes.map(w => w.sync)).toEqual(writes.map(() => false))
  })

  it('fails only the batch whose operations fail; the others land', async () => {
    const group = grouped()
    const results = await Promise.allSettled([0, 1, 2, 3].map(async i => {
      // A put without a value is refused by LevelDB.
      const op = (i === 2
        ? { type: 'put', key: `/test/f${i}` }
        : { type: 'put', key: `/test/f${i}`, value: bytes('x') }) as ExtraOp
      await group.write([op], true)
    }))
    expect(results.map(r => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
    for (const i of [0, 1, 3]) expect(await core.datastore.db.get(`/test/f${i}`)).toBeDefined()
  })

  it('keeps a group under its operation bound without splitting a batch', async () => {
    const group = grouped(5)
    await Promise.all(Array.from({ length: 12 }, async (_, i) => {
      await group.write([
        { type: 'put', key: `/test/m${i}a`, value: bytes('a') },
        { type: 'put', key: `/test/m${i}b`, value: bytes('b') }
      ], true)
    }))
    expect(writes.every(w => w.ops <= 5 && w.ops % 2 === 0)).toBe(true)
    await group.idle()
  })

  it('keeps at most maxWrites writes in progress, and idle() waits for all of them', async () => {
    let now = 0
    let most = 0
    const group = createGroupCommit<ExtraOp>({ maxOps: 1000, maxWrites: 3 }, {
      writeBatch: async (ops, sync) => {
        most = Math.max(most, ++now)
        try { await core.datastore.db.batch(ops, { sync }) } finally { now-- }
      }
    })
    const written = Array.from({ length: 40 }, (_, i) =>
      group.write([{ type: 'put', key: `/test/w${i}`, value: bytes('x') }], true))
    await group.idle()
    expect(now).toBe(0)
    await Promise.all(written)
    expect(most).toBe(3)
    for (let i = 0; i < 40; i++) expect(await core.datastore.db.get(`/test/w${i}`)).toBeDefined()
  })

  it('makes the record store write concurrent changes in fewer LevelDB writes than changes', async () => {
    const db = core.datastore.db
    const records = await createRecordStore({ db })
    const batch = vi.spyOn(db, 'batch')
    await Promise.all(Array.from({ length: 40 }, async () => {
      const created = records.nextCreated()
      const record = {
        requestid: randomUUID(),
        owner: 'u',
        created,
        status: 'queued' as const,
        pin: { cid: 'bafkqaaa' },
        cidKey: 'bafkqaaa'
      }
      await records.write(record)
      expect(await records.get(record.requestid)).toEqual(record)
    }))
    expect(batch.mock.calls.length).toBeLessThan(20)
    batch.mockRestore()
  })
})
