/**
 * Makes durable, at start, what an earlier process left in the block store, for DurableFsBlockstore
 * (durable-blockstore.ts). A process killed before its sync() leaves block files (and shard directory entries)
 * only in the page cache, and a fetch trusts a stored block that hashes right without writing it again, so the
 * sync its pin waits for would not cover them: a power cut after `pinned` then took them
 * (test/power-cut-blocks.test.ts). One syncfs covers them all. Where it fails, sync(2) is no fallback: it
 * reports nothing, so blocks the disk failed to write would be trusted. Instead every block file and directory
 * is fsynced one by one (each file's own fsync still reports its own failed writeback, which the syncfs's report
 * does not consume): a file whose fsync fails is removed (it was never answered for: a block answered for was
 * fsynced then; a fetch needing it writes it anew), and a directory whose fsync fails stops the start, since
 * which of its entries are on disk is unknowable and the next fsync would say 0 (shard-dirs.ts). Costs a walk
 * of the store (about a minute per million blocks), only after a failed syncfs (test/power-cut-blocks.test.ts).
 * None of this runs after a clean stop of this build (clean-stop.ts).
 */
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import { readdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fsyncPath } from './block-files.js'
import { fsCall } from './fs-call.js'
import type { SyncHelper } from './sync-helper.js'
import type { Logger } from '../logger.js'

/** The disk failed to make the block store durable at start: the service does not start on it. */
export class StartSyncError extends Error {
  static override name = 'StartSyncError'
  override name = StartSyncError.name
}

/** Fsyncs in flight at once during the walk. */
const PARALLEL = 16

/**
 * Makes everything under `blocksDir` durable, and its entry in its parent: one syncfs, else the walk (see the
 * top). Throws StartSyncError when a directory's fsync fails; removes (and logs) block files whose fsync fails.
 */
export async function syncAtStart (
  blocksDir: string, helper: SyncHelper, logger?: Pick<Logger, 'error' | 'warn'>
): Promise<void> {
  if (await helper.syncfs(blocksDir)) {
    await fsyncPath(dirname(blocksDir))
  } else if (!helper.available) {
    // No syncfs here (not Linux): the only whole-disk sync there is, which reports nothing.
    await new Promise(resolve => { execFile('sync', err => { resolve(err) }) })
    await fsyncPath(dirname(blocksDir))
  } else {
    const { files, removed } = await fsyncEach(blocksDir)
    const fields = { path: blocksDir, files, removed: removed.length, examples: removed.slice(0, 5) }
    if (removed.length > 0) {
      logger?.error(fields, 'block store: syncfs failed at start; block files whose fsync failed were removed')
    } else {
      logger?.warn(fields, 'block store: syncfs failed at start; every block file was fsynced instead')
    }
  }
}

/** Fsyncs every file under `blocksDir`, then every directory deepest first; removes the files that fail. */
async function fsyncEach (blocksDir: string): Promise<{ files: number, removed: string[] }> {
  const dirs = [blocksDir]
  const files: string[] = []
  for (let i = 0; i < dirs.length; i++) {
    const dir = dirs[i] as string
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) dirs.push(join(dir, entry.name))
      else if (entry.isFile()) files.push(join(dir, entry.name))
    }
  }
  const removed: string[] = []
  await inParallel(files, async file => {
    try {
      await fsyncPath(file)
    } catch {
      removed.push(file)
      await fsCall(cb => { fs.unlink(file, cb) }).catch(() => {})
    }
  })
  // Deepest first, so each directory's fsync comes after its children's entries (and removals) are final.
  for (const dir of [...dirs.reverse(), dirname(blocksDir)]) {
    await fsyncPath(dir).catch((err: unknown) => {
      throw new StartSyncError(`the disk failed to make ${dir} durable at start (${String(err)}); ` +
        'not starting on it: which block files it holds after a power cut is unknowable', { cause: err })
    })
  }
  return { files: files.length, removed }
}

/** Runs `each` over `items`, PARALLEL at a time. */
async function inParallel<T> (items: T[], each: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, async () => {
    while (next < items.length) await each(items[next++] as T)
  }))
}
