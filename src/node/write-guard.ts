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
 *
 * A write answered as failed may still be there after the reopen: one whose
 * fsync failed is whole in the log (in the page cache, which Linux keeps after
 * a failed writeback), and the reopen's recovery replays it into a table; one
 * that landed behind a tear is in the memtable the flush writes out. Whoever
 * keeps state in memory beside the records (the pin index, counts, quotas,
 * the queue) did not apply it, and the 507 said it was not stored: measured
 * with an fsync failing once (test/record-sync-eio.test.ts), a POST answered
 * 507 was in the list after the next start, missing from it and from the
 * counts until then. So after the reopen each write answered as failed is read
 * back, and if any landed, `diverged` is told (the service then exits, and its
 * next start rebuilds everything from the records: PostgreSQL's answer to a
 * failed fsync, a restart from what is on disk).
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
  /**
   * A write answered as failed was found stored after the reopen (see above): state kept beside the records
   * no longer matches them. Without it, that is only logged.
   */
  diverged?(err: Error): void
}

/** A write answered as failed: its operations as the database was given them (keys and values encoded). */
type FailedWrite = Array<{ type: 'put' | 'del', key: unknown, value?: unknown }> & {
  /**
   * Whether it would change nothing (each put stores what its key held, each delete's key is absent), read when
   * it failed: LevelDB applies a write to its memtable only once its log append (and sync) succeeded, so reads
   * then still give what was there before. Such a write reads back "as stored" whether it landed or not, and
   * either way the records match what was answered (review14: the service exited 70 over one after a full disk).
   */
  changesNothing?: Promise<boolean>
}

/** Failed writes kept to read back at most; past that, divergence is assumed. */
const FAILED_WRITES_MAX = 10_000

/** The failed write of `name` called with `args`, or undefined for a clear (not read back). */
function failedWrite (name: (typeof WRITES)[number], args: unknown[]): FailedWrite | undefined {
  if (name === '_put') return [{ type: 'put', key: args[0], value: args[1] }]
  if (name === '_del') return [{ type: 'del', key: args[0] }]
  if (name === '_batch') return [...args[0] as FailedWrite]
  return undefined
}

const same = (a: unknown, b: unknown): boolean =>
  a != null && b != null && Buffer.from(a as Uint8Array).equals(Buffer.from(b as Uint8Array))

/** Whether each operation of `write` already holds in `db` (it would change nothing). */
async function holds (db: Level<string, Uint8Array>, write: FailedWrite): Promise<boolean> {
  for (const op of write) {
    const now = await db.get(op.key as string)
    if (op.type === 'del' ? now !== undefined : !same(now, op.value)) return false
  }
  return true
}

/**
 * Whether every operation of `write` is what the database holds now (a batch lands whole or not at all), and
 * it changed something.
 */
async function landed (db: Level<string, Uint8Array>, write: FailedWrite): Promise<boolean> {
  if (await write.changesNothing?.catch(() => false) === true) return false
  return write.length > 0 && await holds(db, write)
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
  /** Writes answered as failed since the last reopen (undefined once too many to keep). */
  let failedWrites: FailedWrite[] | undefined = []
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
    // What the failed writes would have changed is read before the database closes.
    await Promise.all((failedWrites ?? []).map(async w => await w.changesNothing?.catch(() => false)))
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
        await readBack()
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

  /** After the reopen, with writes still refused: tells `diverged` if a write answered as failed is stored. */
  const readBack = async (): Promise<void> => {
    const writes = failedWrites
    failedWrites = []
    let found = writes == null
    for (const write of writes ?? []) if (!found) found = await landed(db, write).catch(() => true)
    if (!found) return
    const err = new Error('a datastore write answered as failed was stored after all (a failed fsync?): ' +
      'the state kept in memory no longer matches the records')
    components.logger?.error({ err }, 'datastore diverged from what was answered')
    components.diverged?.(err)
  }

  const remember = (name: (typeof WRITES)[number], args: unknown[], applied: boolean): void => {
    const write = failedWrite(name, args)
    if (write == null || failedWrites == null) return
    // A write that failed is not in the memtable: what reads give now is what it would have changed. (One that
    // succeeded behind a failed one is, so nothing can be told from it.)
    if (!applied) write.changesNothing = holds(db, write)
    if (failedWrites.length < FAILED_WRITES_MAX) failedWrites.push(write)
    else failedWrites = undefined
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
        remember(name, args, false)
        fail(err)
        throw new StorageFailedError(`the datastore could not be written: ${(err as Error).message}`, { cause: err })
      }
      // Landed after a failed append, behind its partial record: the reopen may drop it.
      if (broken != null) { remember(name, args, true); throw refuse() }
    }
  }
}
