/**
 * The block files put since the last sync and how they are made durable, for DurableFsBlockstore
 * (durable-blockstore.ts): its `sync()` makes every block put so far durable, directory entries included, before
 * anything is pinned. Few new blocks (small pins) are fsynced one by one with their directories; many (a large
 * DAG) are flushed with one syncfs of the filesystem (`sync -f`, sync-helper.ts): one journal commit instead of
 * one per block, which measured steady at ~62 MiB/s on 256 MiB transfers where per-block fsyncs swung between
 * 25 and 72 MiB/s as they waited on other processes' unsynced writes. A sync that fails is not retried over the
 * same files (untrusted-files.ts), nor over the shard directories whose entries it covered (shard-dirs.ts).
 */
import * as fs from 'node:fs'
import { dirname } from 'node:path'
import { fsyncPath } from './block-files.js'
import { fsCall } from './fs-call.js'
import type { DirRound, ShardDirs } from './shard-dirs.js'
import type { SyncHelper } from './sync-helper.js'
import type { UntrustedFiles } from './untrusted-files.js'

/** From this many new blocks on, one syncfs is cheaper than an fsync each. */
const SYNCFS_AFTER_FILES = 64

/**
 * Once this many new blocks wait for a sync, one starts in the background (through sync-helper.ts, no fork of
 * the service), so a large DAG is made durable while it is still arriving and the sync its pin waits for
 * after the last block has only the rest left: 18–36 → 2 ms at 256 MiB, 23–25 → 3–5 ms at 1 GiB. It also
 * cuts the file system threads' inode scans after mass removals (ext4 without a journal skips inodes freed
 * in the last 60 s, 360 s while their inode-table block is dirty; a syncfs writes those blocks out): per
 * 256 MiB pin 0.30 CPU-s against 0.52 without, 0.34 with 1,024 (RESULTS.md, round nine).
 */
const EARLY_SYNC_FILES = 256

/**
 * New block files whose descriptor stays open until the next sync(), at most: sync() fsyncs them
 * through it instead of opening each file again (an open and a close fewer per block, each a
 * thread-pool round trip). For the many small pins of bench:many (one block each, fsynced one by
 * one): pool jobs per pin 11 → 9.
 */
const KEPT_OPEN_MAX = SYNCFS_AFTER_FILES

/** The store's parts a sync works with: its shard directories, its distrusted files, its syncfs. */
export interface BlockSyncsComponents {
  dirs: ShardDirs
  untrusted: UntrustedFiles
  syncHelper: SyncHelper
}

/** The block files waiting for a sync, their kept descriptors, and the sync. */
export interface BlockSyncs {
  /** Whether a put may keep its new file's descriptor open for the fsync (takes a slot: see KEPT_OPEN_MAX). */
  keepOpen(): boolean
  /** Gives a slot back, closing `fd` if given. */
  closeKept(fd?: number): Promise<void>
  /** A put renamed its new file to `path` (`fd`: kept open, if so): it waits for the next sync. */
  added(path: string, fd: number | undefined): void
  /** Files put and waiting for a sync. */
  readonly pending: number
  /** As DurableFsBlockstore.sync(). */
  sync(since?: number): Promise<void>
  /** Closes the descriptors still kept (the store closes). */
  close(): Promise<void>
}

/** Creates the (empty) set for the block store at `path`. */
export function createBlockSyncs (path: string, components: BlockSyncsComponents): BlockSyncs {
  const { dirs, untrusted, syncHelper } = components
  /** Files put since the last sync, each with its descriptor when still open (see KEPT_OPEN_MAX). */
  const dirtyFiles = new Map<string, number | undefined>()
  let keptOpen = 0
  let syncing: Promise<void> | undefined
  let again = false
  let earlySyncAt = EARLY_SYNC_FILES

  const closeKept = async (fd?: number): Promise<void> => {
    keptOpen--
    if (fd != null) await new Promise(resolve => { fs.close(fd, resolve) })
  }

  /** One sync round: the files and directories waiting now, fsynced one by one or with one syncfs. */
  async function round (): Promise<void> {
    // A shard directory made again after a failed fsync of its parent is so before the parent's next one.
    const repairing = dirs.repaired()
    if (repairing != null) await repairing
    const files = [...dirtyFiles]
    const taken = dirs.take()
    dirtyFiles.clear()
    const failedDirs = new Set<string>()
    try {
      if (files.length < SYNCFS_AFTER_FILES || !await syncHelper.syncfs(path)) {
        const fsyncFile = async ([file, fd]: [string, number | undefined]): Promise<void> => {
          await (fd == null ? fsyncPath(file) : fsCall(cb => { fs.fsync(fd, cb) }))
        }
        const fsyncDir = async (dir: string): Promise<void> => {
          await fsyncPath(dir).catch((err: unknown) => { failedDirs.add(dir); throw err })
        }
        const fsyncs = [...files.map(fsyncFile), ...taken.dirs.map(fsyncDir)]
        // Every fsync ends before its descriptor is closed below.
        const failed = (await Promise.allSettled(fsyncs)).find(r => r.status === 'rejected')
        if (failed != null) throw failed.reason
      }
      dirs.synced(taken)
    } catch (err) {
      distrustAfter(files.map(([file]) => file), taken, failedDirs)
      throw err
    } finally {
      await Promise.all(files.map(async ([, fd]) => { if (fd != null) await closeKept(fd) }))
    }
  }

  async function sync (since?: number): Promise<void> {
    untrusted.check(since, await syncAll().then(() => undefined, (err: unknown) => ({ err })))
  }

  async function syncAll (): Promise<void> {
    if (syncing != null) {
      // A sync in progress may have started before our puts: run one more after it.
      again = true
      while (syncing != null) await syncing
      return
    }
    syncing = (async () => {
      do {
        again = false
        await round()
      } while (again)
    })()
    try {
      await syncing
    } finally {
      syncing = undefined
    }
  }

  /**
   * After a failed sync round: its `files` are not fsynced again (untrusted-files.ts; a file put again since is
   * another file, with its own sync), nor are files put since whose entries were in a directory whose fsync
   * failed, or in a shard directory whose entry was (shard-dirs.ts): each is removed and must be put again.
   */
  function distrustAfter (files: string[], taken: DirRound, failedDirs: ReadonlySet<string>): void {
    const lostDirs = dirs.failed(taken, failedDirs, async () => { await untrusted.idle() })
    const inLostDir = (file: string): boolean => failedDirs.has(dirname(file)) || lostDirs.has(dirname(file))
    const since = [...dirtyFiles].filter(([file]) => inLostDir(file))
    for (const [file, fd] of since) {
      dirtyFiles.delete(file)
      if (fd != null) void closeKept(fd)
    }
    untrusted.distrust([...files.filter(file => !dirtyFiles.has(file)), ...since.map(([file]) => file)])
  }

  return {
    keepOpen () {
      if (keptOpen >= KEPT_OPEN_MAX) return false
      keptOpen++
      return true
    },
    closeKept,
    get pending () { return dirtyFiles.size },
    added (file, fd) {
      // The same block put twice since the last sync: the newer file is the one at the path.
      const older = dirtyFiles.get(file)
      if (older != null) void closeKept(older)
      dirtyFiles.set(file, fd)
      dirs.touch(dirname(file))
      if (dirtyFiles.size >= earlySyncAt && syncing == null) {
        // Failed, its files stay dirty for the next sync(), which every pin waits for; no retry per put.
        sync().then(() => { earlySyncAt = EARLY_SYNC_FILES },
          () => { earlySyncAt = dirtyFiles.size + EARLY_SYNC_FILES })
      }
    },
    sync,
    async close () {
      for (const [file, fd] of dirtyFiles) {
        if (fd == null) continue
        dirtyFiles.set(file, undefined)
        await closeKept(fd)
      }
    }
  }
}
