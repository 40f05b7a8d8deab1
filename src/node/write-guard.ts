/**
 * Keeps LevelDB from answering writes over a torn log.
 *
 * When an append to LevelDB's log fails part-way (ENOSPC, EIO), LevelDB
 * (1.20, in classic-level) reports that one write as failed but leaves its
 * partial record in the file, keeps counting the log's offset as if the
 * record were whole, and appends the next writes after it, answering them as
 * stored. The next open's recovery drops everything from the partial record
 * on: measured on a full 40 MiB ext4, 53 of 104 acknowledged pin requests were
 * gone after a restart (test/storage-full.test.ts). Only a sync that fails
 * makes LevelDB refuse later writes itself; a failed append does not.
 *
 * So at the first write that fails with an I/O error, every later write is
 * refused (also those already in flight that succeed after it: they may sit
 * behind the tear) until the log is known good again: the memtable is
 * flushed while that still works (so writes answered before the failure are
 * in a table), then the database is closed and opened again, which recovers
 * the log up to the tear and starts a new one. Opening needs room on the disk,
 * so it is retried until it succeeds; meanwhile writes answer
 * StorageFailedError (507). The same reopen clears LevelDB's own sticky error
 * after a failed compaction, which otherwise refuses every write until a
 * restart.
 */
import { readdir, stat, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { StorageFailedError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { Level } from 'level'

/** Options for {@link guardWrites}. */
export interface WriteGuardInit {
  /** What `open()` is called with again after a failure. */
  openOptions: Record<string, unknown>
  /** Wait between attempts to open again while the disk is still full. */
  retryMs?: number
}

/** Where the guard tells what it does. */
export interface WriteGuardComponents {
  logger?: Pick<Logger, 'error' | 'warn'>
}

type Op = (...args: unknown[]) => Promise<unknown>
const WRITES = ['_put', '_del', '_batch', '_clear'] as const
const MiB = 1024 * 1024

/**
 * Whether the disk under `dir` has room to open the database again: its recovery writes the logs' contents
 * as a table and a new manifest. While it has not, the database stays open for reads (closing it first
 * would fail every read too, until the disk has room).
 */
async function roomToReopen (dir: string): Promise<boolean> {
  try {
    let logs = 0
    for (const name of await readdir(dir)) if (name.endsWith('.log')) logs += (await stat(join(dir, name))).size
    const fs = await statfs(dir)
    return fs.bavail * fs.bsize >= 2 * logs + 4 * MiB
  } catch {
    return true // Let open() say what is wrong.
  }
}

/** LevelDB's own write errors that say nothing about the log (a closed database, a bad key). */
function touchesLog (err: unknown): boolean {
  const code = (err as { code?: string }).code
  return code !== 'LEVEL_DATABASE_NOT_OPEN' && code !== 'LEVEL_INVALID_KEY' && code !== 'LEVEL_INVALID_VALUE'
}

/**
 * Wraps `db`'s write operations (abstract-level's `_put`, `_del`, `_batch` and `_clear`, which every public
 * write and datastore-level's batches end in) so that none is answered as done after a write failed, until
 * the database has been opened again.
 */
export function guardWrites (
  db: Level<string, Uint8Array>, init: WriteGuardInit, components: WriteGuardComponents = {}
): void {
  const raw = db as unknown as Record<(typeof WRITES)[number], Op>
  const retryMs = init.retryMs ?? 1000
  let broken: Error | undefined
  // Every close but the guard's own is the owner's (a shutdown): the database is not opened again after it,
  // also when it comes while the guard is between closing and opening.
  let closedByOwner = false
  const close = db.close.bind(db)
  db.close = async () => { closedByOwner = true; await close() }

  const refuse = (): StorageFailedError => new StorageFailedError(
    `the datastore refuses writes until it is opened again (${broken?.message ?? 'unknown error'})`,
    { cause: broken })

  const heal = async (): Promise<void> => {
    // Best effort: the flush moves the writes answered so far out of the torn log. LevelDB ignores its result.
    // classic-level has compactRange; `level`'s types leave it out.
    const compact = db as unknown as { compactRange(start: string, end: string): Promise<void> }
    try { await compact.compactRange('\u0000', '\u0000') } catch {}
    for (let attempt = 1; !closedByOwner; attempt++) {
      if (db.status === 'open' && !await roomToReopen(db.location)) {
        if (attempt === 1 || attempt % 60 === 0) {
          components.logger?.error({ attempt }, 'datastore writes refused until the disk has room again')
        }
        await sleep(retryMs, undefined, { ref: false })
        continue
      }
      try {
        await close()
        if (closedByOwner) return
        await db.open(init.openOptions)
        broken = undefined
        components.logger?.warn({ attempt }, 'datastore opened again after a failed write; writes resume')
        return
      } catch (err) {
        if (attempt === 1 || attempt % 60 === 0) {
          components.logger?.error({ err, attempt }, 'datastore cannot be opened again yet (disk full?); retrying')
        }
      }
      await sleep(retryMs, undefined, { ref: false })
    }
  }

  const fail = (err: unknown): void => {
    if (broken != null) return
    broken = err instanceof Error ? err : new Error(String(err))
    components.logger?.error({ err }, 'a datastore write failed: refusing writes until the datastore is reopened')
    heal().catch(e => components.logger?.error({ err: e }, 'datastore recovery failed'))
  }

  for (const name of WRITES) {
    const original = raw[name].bind(db)
    raw[name] = async (...args: unknown[]) => {
      if (broken != null) throw refuse()
      try {
        await original(...args)
      } catch (err) {
        if (!touchesLog(err)) throw err
        fail(err)
        throw new StorageFailedError(`the datastore could not be written: ${(err as Error).message}`, { cause: err })
      }
      // Landed after a failed append, behind its partial record: the reopen may drop it.
      if (broken != null) throw refuse()
    }
  }
}
