/**
 * Opens the data dir: blocks in `<dir>/blocks`, everything else in the
 * LevelDB at `<dir>/datastore`. Used by the service and by the offline CLI.
 */
import { randomBytes } from 'node:crypto'
import { access, chmod, constants, mkdir, open, opendir, rename, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { Level } from 'level'
import { ConfigError, DataDirLockedError, causeChain } from '../errors.js'
import { DurableFsBlockstore } from './durable-blockstore.js'
import { guardWrites, type WriteGuardComponents } from './write-guard.js'
import type { Datastore, Key } from 'interface-datastore'

/** The two stores of one data dir. */
export interface Stores {
  datastore: LevelDatastore
  blockstore: DurableFsBlockstore
  close(): Promise<void>
}

/**
 * Makes every file and directory this process creates from now on readable
 * by its owner only. LevelDB creates its files (tables, logs, manifests, all
 * through its life) with mode 0644 and takes no option for it, so the umask
 * is the one lever that covers them; the blockstore and the admin token set
 * their modes explicitly as well.
 */
export function ownerOnlyFiles (): void {
  process.umask(0o077)
}

/**
 * Writes `data` to `path` (owner-only) so that a power cut leaves the old file or the whole new one: a
 * temporary file, fsynced, renamed over `path`, then the directory fsynced. A plain writeFile can leave a
 * new file empty after a power cut (ext4 commits its name before its delayed data).
 */
export async function writeFileDurably (path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`
  const file = await open(tmp, 'w', 0o600)
  try {
    await file.chmod(0o600) // the mode applies only when open creates the file
    await file.writeFile(data)
    await file.sync()
  } finally {
    await file.close()
  }
  await rename(tmp, path)
  const dir = await open(dirname(path), 'r')
  try { await dir.sync() } finally { await dir.close() }
}

/**
 * `mkdir -p` with `mode`. Not `mkdir(dir, { recursive: true })`: Node 24's never returns for a path the kernel
 * answers ENOENT for while its parent exists (`PINERY_DATA_DIR=/proc/nope` hung the service and the CLI at start,
 * printing nothing; checked 2026-12-02 with node 24.21, sync and async alike).
 */
async function makeDirs (dir: string, mode: number): Promise<void> {
  const once = async (): Promise<void> => {
    await mkdir(dir, { mode }).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err })
  }
  try {
    await once()
  } catch (err) {
    const parent = dirname(dir)
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === dir) throw err
    await makeDirs(parent, mode)
    await once()
  }
}

/**
 * Makes sure `dir` exists, is writable and is the owner's alone (0700, also
 * when an older version made it 0755: then nothing in it is reachable by
 * others); throws a one-line ConfigError otherwise.
 */
export async function ensureWritableDir (dir: string): Promise<void> {
  ownerOnlyFiles()
  const reason = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? (err as Error).message
  try {
    await makeDirs(dir, 0o700)
    if (!(await stat(dir)).isDirectory()) throw new ConfigError(`data dir ${dir} is a file, not a directory`)
    await access(dir, constants.W_OK)
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError(`data dir ${dir} is not writable: ${reason(err)}`)
  }
  try {
    await chmod(dir, 0o700)
  } catch (err) {
    throw new ConfigError(`data dir ${dir} cannot be made readable by its owner only (chmod 700): ${reason(err)}`)
  }
}

/**
 * Opens only the datastore (the CLI needs nothing else), its writes guarded against a torn log
 * (see write-guard.ts).
 */
export async function openDatastore (dataDir: string, components: WriteGuardComponents = {}): Promise<LevelDatastore> {
  await ensureWritableDir(dataDir)
  // Opened here rather than by LevelDatastore, which drops the cause (and so the lock error).
  const db = new Level<string, Uint8Array>(join(dataDir, 'datastore'), { keyEncoding: 'utf8', valueEncoding: 'view' })
  const datastore = new LevelDatastore(db)
  const openOptions = { createIfMissing: true, compression: false }
  guardWrites(db, { openOptions }, components)
  try {
    await db.open(openOptions)
    await datastore.open()
  } catch (err) {
    if (causeChain(err).some(e => e.code === 'LEVEL_LOCKED' || /\block\b/i.test(e.message ?? ''))) {
      throw new DataDirLockedError(
        `the data dir ${dataDir} is in use by another process (is the Pinery service running?)`)
    }
    throw err
  }
  return datastore
}

/** Opens both stores of `dataDir`, creating them when missing. */
export async function openStores (dataDir: string, components: WriteGuardComponents = {}): Promise<Stores> {
  const datastore = await openDatastore(dataDir, components)
  const blockstore = new DurableFsBlockstore(join(dataDir, 'blocks'), { logger: components.logger })
  try {
    await blockstore.open()
    // blockstore-fs opens a plain file of that name too, and then every put fails: say so at start.
    if (!(await stat(join(dataDir, 'blocks'))).isDirectory()) throw new Error('not a directory')
  } catch (err) {
    await datastore.close()
    throw new ConfigError(`blockstore at ${join(dataDir, 'blocks')} cannot be opened: ${(err as Error).message}`)
  }
  return {
    datastore,
    blockstore,
    async close () {
      await blockstore.close()
      await datastore.close()
    }
  }
}

/** Counts the block files under a blockstore-fs directory and their bytes (a walk: seconds for millions). */
export async function blockstoreUsage (
  blocksDir: string, options: { signal?: AbortSignal } = {}
): Promise<{ blocks: number, bytes: number }> {
  let blocks = 0
  let bytes = 0
  let dir
  try {
    dir = await opendir(blocksDir, { recursive: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { blocks, bytes }
    throw err
  }
  for await (const entry of dir) {
    options.signal?.throwIfAborted()
    if (!entry.isFile() || !entry.name.endsWith('.data')) continue
    try {
      bytes += (await stat(join(entry.parentPath, entry.name))).size
      blocks++
    } catch {} // Collected while we walked.
  }
  return { blocks, bytes }
}

/** A key's value, or undefined when it is not stored (the datastore's `get` throws NotFoundError for that). */
export async function getOrUndefined (datastore: Pick<Datastore, 'get'>, key: Key): Promise<Uint8Array | undefined> {
  try {
    return await datastore.get(key)
  } catch (err) {
    if ((err as Error).name === 'NotFoundError') return undefined
    throw err
  }
}

/**
 * A durability barrier for datastore writes: LevelDB's log is append-only, so
 * one synced write makes every earlier write durable too (datastore-level's
 * own put and batch cannot ask for a sync).
 */
export function syncDatastore (datastore: LevelDatastore): () => Promise<void> {
  // A new value each time: a barrier that failed then reads back as landed only if it did (write-guard.ts).
  // The same empty value every time read back as landed always, and a full disk made the service exit (70).
  return async () => { await datastore.db.put('/pinery/sync', randomBytes(8), { sync: true }) }
}

/**
 * {@link blockstoreUsage} for an API: callers at the same time share one
 * walk, and a result is reused for `maxAgeMs`, so repeated calls cost no I/O.
 */
export function cachedBlockstoreUsage (
  blocksDir: string, maxAgeMs: number
): () => Promise<{ blocks: number, bytes: number }> {
  let last: { at: number, value: Promise<{ blocks: number, bytes: number }> } | undefined
  return async () => {
    if (last == null || Date.now() - last.at > maxAgeMs) {
      const value = blockstoreUsage(blocksDir)
      last = { at: Date.now(), value }
      value.catch(() => { last = undefined })
    }
    return await last.value
  }
}
