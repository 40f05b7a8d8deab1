/**
 * Block files a failed sync covered, for DurableFsBlockstore (durable-blockstore.ts). Linux reports a failed
 * writeback to one fsync (or syncfs) only (errseq): the pages are marked clean and stay readable in the page
 * cache, so a later fsync of the same file returns 0 and writes nothing, and a fetch finds the block stored
 * and hashing right. Retrying the sync would then answer `pinned` over bytes that are not on disk (the
 * "fsyncgate" class; test/power-cut-eio.test.ts). So such files are not trusted: they read as absent at once
 * and are removed, a fetch or upload needing the block writes it again as a new file, and every sync that
 * fails is counted, so that whoever relied on blocks since before the failure can tell (BlocksLostError).
 */
import * as fs from 'node:fs'
import { fsCall } from './fs-call.js'
import { Counts } from '../counts.js'
import { BlocksLostError } from '../errors.js'

/** Files being removed after a failed sync, and the count of failed syncs. */
export interface UntrustedFiles {
  /** Syncs failed so far (only grows). */
  readonly failures: number
  /** Whether `path` is being removed (or will be, if its put's rename fails): it reads as absent. */
  has(path: string): boolean
  /**
   * Counts a failed sync and removes `paths`, the files it covered (their bytes may never reach the disk),
   * except those a put is renaming a new file onto (see claim()).
   */
  distrust(paths: Iterable<string>): void
  /**
   * Before a put renames a new file onto `path`: marks the rename as in flight until renamed(), once no
   * removal of it is (it would take the new file); a promise only when the put must wait for one.
   */
  claim(path: string): Promise<void> | undefined
  /** Resolves once every removal started so far has ended. */
  idle(): Promise<void>
  /** The put's rename ended: if it failed over a file a failed sync covered meanwhile, that file goes now. */
  renamed(path: string, ok: boolean): void
  /**
   * After a sync (`failed`: how it failed): throws BlocksLostError if a sync failed after `since` (failures
   * read before relying on blocks), else what the sync threw, if anything.
   */
  check(since: number | undefined, failed: { err: unknown } | undefined): void
}

/** Creates the (empty) set of untrusted files. */
export function createUntrustedFiles (): UntrustedFiles {
  const removing = new Map<string, Promise<void>>()
  /** Paths a put is renaming a new file onto (with how many such puts). */
  const renaming = new Counts<string>()
  /** Paths a failed sync covered whose put was renaming a new file over them: removed if that rename fails. */
  const owed = new Set<string>()
  let failures = 0

  function remove (paths: string[]): void {
    // The removals are made durable by the store's next sync of their directories, which reports a failure (an
    // fsync here that failed unseen would leave the next one to succeed over entries it never wrote: see
    // shard-dirs.ts). Until then an entry may outlive a power cut, holding a torn block, which fetches hash and
    // uploads compare before trusting.
    const done = (async () => {
      await Promise.all(paths.map(async path => {
        await fsCall(cb => { fs.unlink(path, cb) }).catch(() => {})
      }))
    })()
    for (const path of paths) removing.set(path, done)
    void done.finally(() => { for (const path of paths) if (removing.get(path) === done) removing.delete(path) })
  }

  return {
    get failures () { return failures },
    idle: async () => { await Promise.all([...removing.values()]) },
    has: (path) => removing.has(path) || owed.has(path),
    distrust (paths) {
      failures++
      const now: string[] = []
      for (const path of paths) {
        if (renaming.has(path)) owed.add(path)
        else now.push(path)
      }
      if (now.length > 0) remove(now)
    },
    claim (path) {
      const mark = (): void => { renaming.add(path) }
      if (!removing.has(path)) { mark(); return undefined }
      return (async () => {
        for (let r = removing.get(path); r != null; r = removing.get(path)) await r
        // In the same step as the check: from here a failed sync leaves this path to the rename.
        mark()
      })()
    },
    check (since, failed) {
      if (since == null || failures <= since) { if (failed != null) throw failed.err; return }
      const why = failed == null ? '' : ` (${String(failed.err)})`
      throw new BlocksLostError(`the disk failed to make block files durable${why}; the blocks that sync covered ` +
        'were dropped and must be stored again', failed == null ? {} : { cause: failed.err })
    },
    renamed (path, ok) {
      renaming.add(path, -1)
      if (!owed.delete(path) || ok) return
      remove([path])
    }
  }
}
