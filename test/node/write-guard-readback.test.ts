/**
 * The write guard's read-back after a reopen (src/node/write-guard.ts) must tell a failed write that landed
 * from one that did not. A write that stores what the key already held (the durability barrier of
 * syncDatastore writes the same empty value under the same key every time) reads back "as stored" whether it
 * landed or not. A real LevelDB in a temp dir; the one failure is LevelDB's answer to a full disk, given by
 * the database itself in place of the append (nothing can make the disk full here for one write only).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { LevelDatastore } from 'datastore-level'
import { Level } from 'level'
import { afterEach, describe, expect, it } from 'vitest'
import { guardWrites } from '../../src/node/write-guard.js'
import { syncDatastore } from '../../src/node/storage.js'

const dirs: string[] = []
afterEach(async () => { await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true }) })) })

interface GuardedDb {
  db: Level<string, Uint8Array>
  failNext: () => void
  diverged: Error[]
  writable: () => Promise<void>
}

/**
 * A guarded LevelDB in a temp dir whose next `op` fails, once `failNext()` is called, with what classic-level
 * answers when the log's append hits a full disk (nothing was written); `diverged` collects the guard's reports.
 */
async function guardedDb (op: '_put' | '_del'): Promise<GuardedDb> {
  const dir = await mkdtemp(join(tmpdir(), 'pinery-guard-readback-'))
  dirs.push(dir)
  const db = new Level<string, Uint8Array>(join(dir, 'datastore'), { keyEncoding: 'utf8', valueEncoding: 'view' })
  const raw = db as unknown as Record<typeof op, (...args: unknown[]) => Promise<void>>
  const original = raw[op].bind(db)
  let failing = false
  raw[op] = async (...args) => {
    if (!failing) { await original(...args); return }
    failing = false
    throw Object.assign(new Error('IO error: /datastore/000003.log: No space left on device'),
      { code: 'LEVEL_IO_ERROR' })
  }
  const diverged: Error[] = []
  const openOptions = { createIfMissing: true, compression: false }
  guardWrites(db, { openOptions, retryMs: 10 }, { diverged: (err) => diverged.push(err) })
  await db.open(openOptions)
  /** Writes resume once the guard has reopened the database and read back what failed. */
  const writable = async (): Promise<void> => {
    for (let i = 0; ; i++) {
      try { await db.put('/after', new Uint8Array([1])); return } catch (err) { if (i > 200) throw err }
      await sleep(10)
    }
  }
  return { db, failNext: () => { failing = true }, diverged, writable }
}

describe('the write guard after a failed durability barrier', () => {
  it('does not report a divergence for a barrier that never landed', async () => {
    const { db, failNext, diverged, writable } = await guardedDb('_put')
    const datastore = new LevelDatastore(db)
    await datastore.open()
    const barrier = syncDatastore(datastore)
    await barrier()
    failNext()
    await expect(barrier()).rejects.toThrow(/could not be written/)
    await writable()
    // Old code: the barrier's key held the empty value from the first barrier, so the failed one "landed",
    // and the service exits (70) though nothing it answered differs from the records.
    expect(diverged).toEqual([])
    await db.close()
  })

  it('does not report a divergence for a failed delete of a key that was not there', async () => {
    const { db, failNext, diverged, writable } = await guardedDb('_del')
    await db.put('/kept', new Uint8Array([1]))
    failNext()
    await expect(db.del('/never-stored')).rejects.toThrow(/could not be written/)
    await writable()
    // Old code: the key is absent after the reopen, so the delete "landed", and the service exits (70).
    expect(diverged).toEqual([])
    expect([...await db.get('/kept') ?? []]).toEqual([1])
    await db.close()
  })
})
