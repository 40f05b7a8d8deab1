/**
 * blockstore-fs with durable writes. Stock blockstore-fs writes a temp file
 * and renames it without fsync, so a power loss can take blocks of a DAG
 * that was already reported `pinned`. Here `sync()` makes every block put
 * so far durable, directory entries included, before anything is pinned
 * (block-syncs.ts says how, with the measurements). Known shard directories
 * are remembered (shard-dirs.ts), which also saves blockstore-fs's mkdir per
 * block.
 *
 * Reads are one `readFile` per block: stock blockstore-fs streams each file
 * through a ReadStream in 64 KiB pieces (four reads, stream events and a
 * concatenation per 256 KiB block), which profiled as the largest single
 * cost of serving blocks (bitswap answers and CAR exports).
 *
 * Per-block system calls (has, and open/write/close/rename on put) go through
 * fs's callback API on plain fds: the promise API costs a FileHandle, its
 * close tracking and a promise per call (and blockstore-fs's has() a signal
 * race too). Measured: an access(2) 20–25 ms of CPU per 1,024 calls that way
 * against 7–8 ms through a callback; has + put of 2,048 blocks 91 → 78 ms
 * of user CPU (medians of 8). What is left per block is the kernel's:
 * creating the temp file's inode costs 0.1–1 ms of system CPU on this
 * machine's ext4 after mass removals, ~10× the 256 KiB write and 50× the
 * rename (see scripts/bench/RESULTS.md, "CPU per byte of the receiver"),
 * ~13 µs once the shard directories are spread over the disk (spread-dirs.ts).
 * Large blocks are written around the page cache (direct-write.ts): the
 * buffered copy into fresh page-cache pages was half of a 1 GiB pin's file
 * system CPU here (RESULTS.md, round six).
 */
import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { NextToLast, type ShardingStrategy } from 'blockstore-fs/sharding'
import { DeleteFailedError, NotFoundError, PutFailedError } from 'interface-store'
import { blockSize } from './block-bytes.js'
import { createDirectWriter, type DirectWriter } from './direct-write.js'
import { fsCall } from './fs-call.js'
import { restoreAsideDirs } from './aside-dirs.js'
import { markClean, takeCleanMark } from './clean-stop.js'
import { holdsExactly, readInto, writeNewFile, type Bytes } from './block-files.js'
import { createBlockSyncs, type BlockSyncs } from './block-syncs.js'
import { createShardDirs, type ShardDirs } from './shard-dirs.js'
import { spreadSubdirectories } from './spread-dirs.js'
import { syncAtStart } from './start-sync.js'
import { createSyncHelper, type SyncHelper } from './sync-helper.js'
import { createUntrustedFiles, type UntrustedFiles } from './untrusted-files.js'
import type { Logger } from '../logger.js'
import type { CID } from 'multiformats/cid'

/** Whether `path` exists: one access(2) through the callback API (one promise: not an async function). */
function accessible (path: string): Promise<boolean> {
  return new Promise(resolve => { fs.access(path, err => { resolve(err == null) }) })
}

/** Removes the file at `path`: false when there was none. */
async function removeFile (path: string): Promise<boolean> {
  try {
    await fsCall(cb => { fs.unlink(path, cb) })
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw new DeleteFailedError(String(err))
  }
}

/** Where the store tells what it could not make durable. */
export interface DurableFsBlockstoreComponents {
  logger?: Pick<Logger, 'error' | 'warn'>
}

/** A blockstore-fs whose puts are fsynced, with a barrier for directory entries. */
export class DurableFsBlockstore extends FsBlockstore {
  // blockstore-fs's default layout, kept here too: its own copy is private.
  private readonly sharding: ShardingStrategy
  private readonly tempNonce = randomBytes(4).toString('hex')
  // Known shard directories (blockstore-fs's mkdir per block saved), those waiting for an fsync, repairs.
  private readonly dirs: ShardDirs = createShardDirs(this.tempNonce)
  private tempCount = 0
  // Puts under way, and whether close() has begun (puts refused): a clean stop's mark needs none (clean-stop.ts).
  private putting = 0
  private closing = false
  // Whether open() ended: a store closed after a failed (or no) open vouches for nothing (no mark).
  private opened = false
  // Large blocks around the page cache (direct-write.ts for why and the measurement).
  private readonly direct: DirectWriter = createDirectWriter()
  // syncfs without forking the service for each (sync-helper.ts); started with the store, while the heap is small.
  private readonly syncHelper: SyncHelper = createSyncHelper()
  // Files a failed sync covered: never synced again, removed (untrusted-files.ts for why).
  private readonly untrusted: UntrustedFiles = createUntrustedFiles()
  // The files waiting for a sync, and the sync (block-syncs.ts).
  private readonly syncs: BlockSyncs

  constructor (location: string, private readonly components: DurableFsBlockstoreComponents = {}) {
    const sharding = new NextToLast()
    super(location, { shardingStrategy: sharding })
    this.sharding = sharding
    const { dirs, untrusted, syncHelper } = this
    this.syncs = createBlockSyncs(this.path, { dirs, untrusted, syncHelper })
  }

  override async open (): Promise<void> {
    await super.open()
    // Before anything changes a directory's ctime (spreadSubdirectories' chattr too).
    const clean = await takeCleanMark(this.path)
    await restoreAsideDirs(this.path)
    // Shard directories made from now on go to block groups of their own (spread-dirs.ts for why).
    await spreadSubdirectories(this.path)
    // What an earlier process left unsynced, made durable before anything is fetched or served (start-sync.ts),
    // unless it stopped clean (clean-stop.ts).
    if (!clean) await syncAtStart(this.path, this.syncHelper, this.components.logger)
    // After a clean stop, a syncfs all the same (cheap: nothing is dirty): the perl helper opens its descriptor
    // of the store at its first request and sees only the writeback errors since (sync-helper.ts). Left to the
    // first large pin's sync, that pin's own failed writeback could be taken by another process's syncfs first.
    else await this.syncHelper.syncfs(this.path)
    this.opened = true
  }

  /** The block file of `key`. */
  private pathOf (key: CID): string {
    const { dir, file } = this.sharding.encode(key)
    return join(this.path, dir, file)
  }

  /**
   * Whether a miss may come of a repair's renames (shard-dirs.ts): one began since `moves` was read, or a shard
   * directory is away now. Its blocks were not found meanwhile (a fetch fetched them again, a gateway read
   * failed), so such a miss reads once more where the block's directory is once the renames end (relocated()).
   * Hits, and misses with no repair about, pay two field reads.
   */
  private moved (moves: number): boolean {
    return moves !== this.dirs.moves || this.dirs.away
  }

  /** Where the block file `path` is once a repair's renames of its directory end (see moved()). */
  private async relocated (path: string): Promise<string> {
    const at = join(await this.dirs.located(dirname(path)), basename(path))
    if (this.untrusted.has(path)) throw new Error('a failed sync covered it')
    return at
  }

  override async * get (key: CID, options?: { signal?: AbortSignal }): AsyncGenerator<Uint8Array> {
    const path = this.pathOf(key)
    let bytes: Uint8Array
    const moves = this.dirs.moves
    const read = options?.signal != null ? { signal: options.signal } : {}
    try {
      options?.signal?.throwIfAborted()
      if (this.untrusted.has(path)) throw new Error('a failed sync covered it')
      bytes = await readFile(path, read)
    } catch (err) {
      // As blockstore-fs: any failure to read the block is its absence.
      if (!this.moved(moves)) throw new NotFoundError(String(err))
      bytes = await this.relocated(path).then(async at => await readFile(at, read))
        .catch((again: unknown) => { throw new NotFoundError(String(again)) })
    }
    yield bytes
  }

  /**
   * Whether the block is stored, checked synchronously: for start-up, before
   * anything is served, where 100k async `has` calls (each through the
   * thread pool, and an Error per missing block) took ~2 s and this ~0.2 s.
   */
  hasSync (key: CID): boolean {
    return fs.existsSync(this.pathOf(key))
  }

  override async has (key: CID, options?: { signal?: AbortSignal }): Promise<boolean> {
    options?.signal?.throwIfAborted()
    const path = this.pathOf(key)
    if (this.untrusted.has(path)) return false
    // One access(2) through the callback API: blockstore-fs's has() adds a promise-based call and a
    // signal race per block, measured at ~3× the main-thread cost of the system call itself.
    const moves = this.dirs.moves
    if (await accessible(path)) return true
    // A fetch asks has() of every block it needs, most of them missing: see moved().
    if (!this.moved(moves)) return false
    return await this.relocated(path).then(accessible, () => false)
  }

  override async put (key: CID, val: Bytes, options?: { signal?: AbortSignal }): Promise<CID> {
    const path = this.pathOf(key)
    // Unique within this process (the data dir is locked to one); the nonce keeps apart temp files
    // an earlier process left behind.
    const temp = `${path}.${this.tempNonce}${(this.tempCount++).toString(36)}.tmp`
    this.putting++
    try {
      options?.signal?.throwIfAborted()
      if (this.closing) throw new Error('the block store is closing')
      const entering = this.dirs.enter(dirname(path))
      if (entering != null) await entering
      try {
        await this.putIn(path, temp, val)
      } finally {
        this.dirs.leave(dirname(path))
      }
      return key
    } catch (err) {
      // A shard directory removed behind our back is made again by the next put.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.dirs.forget(dirname(path))
      await rm(temp, { force: true }).catch(() => {})
      throw new PutFailedError(String(err))
    } finally {
      this.putting--
    }
  }

  /** put() once its shard directory exists: the block written to `temp`, then renamed to `path`. */
  private async putIn (path: string, temp: string, val: Bytes): Promise<void> {
    const pieces = val instanceof Uint8Array ? [val] : Array.isArray(val) ? val as Uint8Array[] : undefined
    // A direct write closes its file (its fsync at sync() opens it again: one per large block); the
    // buffered path keeps the descriptor for the fsync, which small blocks' pins are dominated by.
    const direct = pieces != null && await this.direct.write(temp, pieces, blockSize(pieces))
    const keep = !direct && this.syncs.keepOpen()
    const fd = direct
      ? undefined
      : await writeNewFile(temp, val, keep).catch(err => { if (keep) void this.syncs.closeKept(); throw err })
    // A block already stored byte for byte stays as it is: renaming this put's file over it would replace a
    // file another pin may have made durable (and been answered for) with one not synced yet, which a failed
    // sync would then remove (review14). One failed open per put when the path is free, the usual case.
    if (pieces != null && !this.untrusted.has(path) && await holdsExactly(path, pieces)) {
      if (fd != null) void this.syncs.closeKept(fd)
      await rm(temp, { force: true })
      return
    }
    // Not over a file a failed sync covered while it is being removed (its removal would take the new one).
    const removing = this.untrusted.claim(path)
    if (removing != null) await removing
    try {
      await fsCall(cb => { fs.rename(temp, path, cb) })
      this.untrusted.renamed(path, true)
    } catch (err) {
      this.untrusted.renamed(path, false)
      if (fd != null) void this.syncs.closeKept(fd)
      throw err
    }
    this.syncs.added(path, fd)
  }

  /**
   * As blockstore-fs's (a missing block is no error), except when a repair had the block's shard directory aside
   * (see moved()): then the file is removed where the directory is once its renames end. Before, the collector's
   * delete found nothing and the block stayed on disk for good, readable again once the directory was back
   * (test/node/shard-repair-reads.test.ts).
   */
  override async delete (key: CID, options?: { signal?: AbortSignal }): Promise<void> {
    options?.signal?.throwIfAborted()
    const path = this.pathOf(key)
    const moves = this.dirs.moves
    if (await removeFile(path) || !this.moved(moves)) return
    // Missed while a repair was moving its directory: where the directory is once the renames end.
    await removeFile(join(await this.dirs.located(dirname(path)), basename(path)))
  }

  /** Syncs that failed so far: noted before relying on blocks, and given to sync() as `since`. */
  get syncFailures (): number {
    return this.untrusted.failures
  }

  /**
   * Makes every block put so far durable, directory entries included; concurrent calls share the work.
   * Throws BlocksLostError if a sync failed after `since` (syncFailures) was read: blocks were dropped.
   */
  async sync (since?: number): Promise<void> {
    await this.syncs.sync(since)
  }

  /** Closes the store, with a mark that spares the next start its sync if nothing is left unsynced. */
  override async close (): Promise<void> {
    this.closing = true
    const synced = await this.syncs.sync().then(() => true, () => false)
    const quiet = (): boolean => this.opened && synced && this.putting === 0 && this.syncs.pending === 0 &&
      this.untrusted.failures === 0 && !this.dirs.away
    await markClean(this.path, quiet).catch(() => {})
    await this.syncs.close()
    this.syncHelper.close()
    await super.close()
  }

  /**
   * Reads a block into `target` when it fits (a view of `target` is returned), else into a new
   * buffer. For readers that stream many blocks (the gateway's CAR export): a new buffer per block
   * made garbage collection ~30 % of that path's CPU (profile, issue 14). Plain descriptors, not
   * FileHandle objects, for the same reason.
   */
  async getInto (key: CID, target: Uint8Array, options?: { signal?: AbortSignal }): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    const path = this.pathOf(key)
    const moves = this.dirs.moves
    try {
      if (this.untrusted.has(path)) throw new Error('a failed sync covered it')
      return await readInto(path, target)
    } catch (err) {
      // As get(): any failure to read the block is its absence, unless a repair was moving it.
      if (!this.moved(moves)) throw new NotFoundError(String(err))
      return await this.relocated(path).then(async at => await readInto(at, target))
        .catch((again: unknown) => { throw new NotFoundError(String(again)) })
    }
  }
}
