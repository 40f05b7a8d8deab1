/**
 * The index snapshot on a real LevelDB and real files: an index restored from
 * the snapshot of a clean close answers every query, count, usage, charge and
 * stats exactly as one rebuilt from the records; interned values are still
 * released when their last record goes; and a snapshot that does not match
 * the records (a write after it with no clean close, a truncated or corrupted
 * file, a file from another data dir) is not used: the index is rebuilt.
 */
import { randomUUID } from 'node:crypto'
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { quietLogger } from '../fixtures/pin-core.js'
import { openDatastore } from '../../src/node/storage.js'
import { createIndexSnapshot } from '../../src/pins/query-index-snapshot.js'
import { createPinIndex, type PinIndex } from '../../src/pins/query-index.js'
import { createRecordStore, type RecordStore } from '../../src/pins/record-store.js'
import { PIN_STATES, type PinQuery, type PinRecord } from '../../src/pins/types.js'
import type { LevelDatastore } from 'datastore-level'

const CIDS = ['bafkqaaa', 'bafkqaatine', 'bafkqaaik', 'bafkqaaiq']
const OWNERS = ['alice', 'bob', 'carol']

interface Opened { datastore: LevelDatastore, index: PinIndex, records: RecordStore, fromSnapshot: boolean }

/** Opens the store in `dir` with an index and the snapshot; says whether the snapshot was used. */
async function open (dir: string): Promise<Opened> {
  const datastore = await openDatastore(dir)
  const index = createPinIndex()
  const snapshot = createIndexSnapshot({ path: join(dir, 'index.snapshot') }, { logger: quietLogger() })
  let fromSnapshot = false
  const records = await createRecordStore({
    db: datastore.db,
    index,
    snapshot: {
      read: async (g) => { const dump = await snapshot.read(g); fromSnapshot = dump != null; return dump },
      write: snapshot.write
    }
  })
  return { datastore, index, records, fromSnapshot }
}

/** An index rebuilt from the records alone (the reference). */
async function rebuilt (datastore: LevelDatastore): Promise<PinIndex> {
  const index = createPinIndex()
  await createRecordStore({ db: datastore.db, index })
  return index
}

/** Everything the index answers, for comparing two indexes. */
function answers (index: PinIndex): unknown {
  const queries: Array<Omit<PinQuery, 'limit'>> = [
    { statuses: [...PIN_STATES], match: 'exact' },
    ...PIN_STATES.map(s => ({ statuses: [s], match: 'exact' as const })),
    { statuses: [...PIN_STATES], name: 'FILE-1', match: 'ipartial' },
    { statuses: [...PIN_STATES], name: 'file-2.txt', match: 'exact' },
    { statuses: [...PIN_STATES], meta: { app: 'a1' }, match: 'exact' }
  ]
  const out: unknown[] = [index.size(), index.countsByStatus(), index.stats(), index.owners().sort()]
  for (const owner of OWNERS) {
    out.push(index.usage(owner), CIDS.map(c => index.chargeOf(owner, c)))
    for (const q of queries) {
      out.push(index.query(owner, { ...q, limit: 1000 }))
      out.push(index.query(owner, { ...q, limit: 1000 }, new Set([CIDS[1] as string])))
    }
  }
  return out
}

/** A mix of records: statuses, names, meta, a non-UUID request ID, a replacement holding a CID, removals. */
async function fill (records: RecordStore, n: number): Promise<PinRecord[]> {
  const live: PinRecord[] = []
  for (let i = 0; i < n; i++) {
    const status = PIN_STATES[i % 4] as PinRecord['status']
    const cidKey = CIDS[i % CIDS.length] as string
    const r: PinRecord = {
      requestid: i === 3 ? `legacy-${i}` : randomUUID(),
      owner: OWNERS[i % OWNERS.length] as string,
      created: records.nextCreated(),
      status,
      cidKey,
      pin: {
        cid: cidKey,
        ...(i % 5 === 0 ? {} : { name: `file-${i % 7}.txt` }),
        ...(i % 3 === 0 ? { meta: { app: `a${i % 2}` } } : {})
      },
      ...(status === 'pinned' ? { dagSize: 100 + (i % CIDS.length) } : {})
    }
    await records.write(r)
    live.push(r)
  }
  // A replacement holding the CID it replaces, still queued.
  const old = live.find(r => r.status === 'pinned' && r.owner === 'alice') as PinRecord
  const cidKey = CIDS[3] as string
  const replacement: PinRecord =
    { ...old, requestid: randomUUID(), created: records.nextCreated(), status: 'queued', cidKey, pin: { cid: cidKey } }
  replacement.holds = [old.cidKey]
  delete replacement.dagSize
  await records.write(replacement, undefined, old)
  live.splice(live.indexOf(old), 1, replacement)
  for (const r of live.filter((_, i) => i % 9 === 4)) { await records.remove(r); live.splice(live.indexOf(r), 1) }
  return live
}

describe('index snapshot', () => {
  const dirs: string[] = []
  const opened: Opened[] = []
  async function tempDir (): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'pinery-snapshot-'))
    dirs.push(dir)
    return dir
  }
  async function openTracked (dir: string): Promise<Opened> {
    const o = await open(dir)
    opened.push(o)
    return o
  }
  afterEach(async () => {
    for (const o of opened.splice(0)) await o.datastore.close().catch(() => {})
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  /** A dir with records whose last close saved a snapshot; returns what the index answered before. */
  async function closedCleanly (dir: string, n = 200): Promise<unknown> {
    const first = await open(dir)
    await fill(first.records, n)
    const before = answers(first.index)
    await first.records.close()
    await first.datastore.close()
    return before
  }

  it('restores the index of a clean close exactly, and writes go on from there', async () => {
    const dir = await tempDir()
    const before = await closedCleanly(dir)

    const second = await openTracked(dir)
    expect(second.fromSnapshot).toBe(true)
    expect(answers(second.index)).toEqual(before)
    expect(answers(second.index)).toEqual(answers(await rebuilt(second.datastore)))

    // Writes after a restore keep it in step with the records.
    await fill(second.records, 60)
    expect(answers(second.index)).toEqual(answers(await rebuilt(second.datastore)))
    await second.records.close()
    await second.datastore.close()
    opened.pop()
    const third = await openTracked(dir)
    expect(third.fromSnapshot).toBe(true)
    expect(answers(third.index)).toEqual(answers(await rebuilt(third.datastore)))
  })

  it('still releases interned names, meta and CIDs once a restored index loses their last record', async () => {
    const dir = await tempDir()
    await closedCleanly(dir, 60)
    const o = await openTracked(dir)
    expect(o.fromSnapshot).toBe(true)
    expect(o.index.stats().names).toBeGreaterThan(0)
    const all: PinRecord[] = []
    for (const owner of OWNERS) {
      for (const id of o.index.query(owner, { statuses: [...PIN_STATES], match: 'exact', limit: 1000 }).requestids) {
        all.push(await o.records.get(id) as PinRecord)
      }
    }
    for (const r of all) await o.records.remove(r)
    expect(o.index.size()).toBe(0)
    expect(o.index.stats()).toEqual({ cids: 0, names: 0, metas: 0, owners: 0 })
  })

  it('is not used after writes with no clean close since (a crash): the index is rebuilt', async () => {
    const dir = await tempDir()
    await closedCleanly(dir)
    const crashed = await open(dir)
    expect(crashed.fromSnapshot).toBe(true)
    await fill(crashed.records, 30)
    const expected = answers(crashed.index)
    // No close(): the process died with the snapshot of the previous clean stop on disk.
    await crashed.datastore.close()

    const after = await openTracked(dir)
    expect(after.fromSnapshot).toBe(false)
    expect(answers(after.index)).toEqual(expected)
  })

  it('is not written after a failed write that may have landed: the next start rebuilds', async () => {
    const dir = await tempDir()
    const o = await openTracked(dir)
    await fill(o.records, 30)
    // The write guard's race (write-guard.ts): the batch reaches LevelDB, its caller is told it failed.
    const db = o.datastore.db as unknown as { batch: (...args: unknown[]) => Promise<void> }
    const batch = db.batch.bind(db)
    db.batch = async (...args) => {
      await batch(...args)
      db.batch = batch
      throw new Error('refused after a torn append')
    }
    const cidKey = CIDS[0] as string
    const r: PinRecord = {
      requestid: randomUUID(), owner: 'alice', created: o.records.nextCreated(), status: 'queued', cidKey,
      pin: { cid: cidKey }
    }
    await expect(o.records.write(r)).rejects.toThrow('torn append')
    await o.records.close()
    await o.datastore.close()
    opened.pop()

    const after = await openTracked(dir)
    expect(after.fromSnapshot).toBe(false)
    expect(await after.records.get(r.requestid)).toBeDefined()
    expect(answers(after.index)).toEqual(answers(await rebuilt(after.datastore)))
  })

  it('is not used when truncated or corrupted', async () => {
    const dir = await tempDir()
    const before = await closedCleanly(dir)
    const file = join(dir, 'index.snapshot')
    const good = await readFile(file)

    for (const bad of [good.subarray(0, good.length - 100), good.subarray(0, 20), Buffer.alloc(0)]) {
      await writeFile(file, bad)
      const o = await open(dir)
      expect(o.fromSnapshot).toBe(false)
      expect(answers(o.index)).toEqual(before)
      await o.datastore.close()
    }
    const flipped = Buffer.from(good)
    flipped[Math.floor(flipped.length * 0.7)]! ^= 0x40
    await writeFile(file, flipped)
    const o = await openTracked(dir)
    expect(o.fromSnapshot).toBe(false)
    expect(answers(o.index)).toEqual(before)
  })

  it('is not used in another data dir, even one with as many writes', async () => {
    const a = await tempDir()
    const b = await tempDir()
    await closedCleanly(a)
    const beforeB = await closedCleanly(b)
    await copyFile(join(a, 'index.snapshot'), join(b, 'index.snapshot'))
    const o = await openTracked(b)
    expect(o.fromSnapshot).toBe(false)
    expect(answers(o.index)).toEqual(beforeB)
  })
})
