/**
 * Restores a backup archive (see archive.ts) into a new data dir: the datastore's keys as they were in the
 * snapshot, and every block through the blockstore, which lays them out and makes them durable. It builds the
 * data dir beside the target and moves it into place only once the whole archive was read and its end entry
 * counted what came, so a cut or damaged archive leaves nothing behind that a start could take for a node.
 */
import { randomBytes } from 'node:crypto'
import { readdir, rename, rm, rmdir, stat } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { CID } from 'multiformats/cid'
import { extract } from 'tar-stream'
import { ConfigError, DataDirLockedError } from '../errors.js'
import { fsyncPath } from '../node/block-files.js'
import { openDatastore, openStores, syncDatastore } from '../node/storage.js'
import { blockMatches, SUPPORTED_HASHES } from '../pins/cid.js'
import {
  BACKUP_FORMAT, BLOCKS_DIR, CHUNK_BYTES, chunkName, DATASTORE_DIR, decodeChunk, MANIFEST, TRAILER,
  type BackupManifest, type BackupTrailer
} from './archive.js'

/** The largest entry read: a datastore chunk can pass CHUNK_BYTES by one pair; blocks are far smaller. */
const ENTRY_MAX = CHUNK_BYTES + 64 * 1024 * 1024

/** What was restored. */
export interface RestoreReport extends BackupTrailer {
  manifest: BackupManifest
  /** Staging dirs of earlier restores that were killed (kill -9, a power cut) and were removed. */
  leftovers: number
}

/** The archive is not a whole Pinery backup this build can read. */
export class BadBackupError extends Error {
  static override name = 'BadBackupError'
  override name = BadBackupError.name
}

/** Whether `dir` is missing or empty (a restore never writes over a data dir). */
async function isFree (dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true
    throw err
  }
}

/** Reads one entry whole, refusing one larger than ENTRY_MAX. */
async function readEntry (stream: AsyncIterable<Buffer>, name: string): Promise<Buffer> {
  const parts: Buffer[] = []
  let size = 0
  for await (const part of stream) {
    size += part.byteLength
    if (size > ENTRY_MAX) throw new BadBackupError(`entry ${name} is larger than any backup writes`)
    parts.push(part)
  }
  return Buffer.concat(parts, size)
}

/** The staging dirs' names beside `dataDir` and inside it (a random suffix per restore). */
function stagingPatterns (dataDir: string): Array<[string, RegExp]> {
  const escaped = basename(dataDir).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return [
    [dirname(dataDir), new RegExp(`^\\.${escaped}\\.restoring-[0-9a-f]{8}$`)],
    [dataDir, /^\.restoring-[0-9a-f]{8}$/]
  ]
}

/**
 * Where this restore builds the data dir: beside it, to be renamed into place in one step; but inside it when
 * `dataDir` is a mount point (a disk or volume of its own), which cannot be renamed over: building beside it
 * filled the parent's filesystem with the whole node and then failed with EBUSY at the very end.
 */
async function stagingDirOf (dataDir: string): Promise<{ staging: string, inside: boolean }> {
  const suffix = `restoring-${randomBytes(4).toString('hex')}`
  let inside = false
  try {
    inside = (await stat(dataDir)).dev !== (await stat(dirname(dataDir))).dev
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  return inside
    ? { staging: join(dataDir, `.${suffix}`), inside }
    : { staging: join(dirname(dataDir), `.${basename(dataDir)}.${suffix}`), inside }
}

/**
 * Removes staging dirs a killed restore left beside `dataDir`: nothing else removes them, and each can hold a
 * whole node's blocks. One whose LevelDB is locked belongs to a restore still running and is kept.
 */
async function removeLeftovers (dataDir: string): Promise<number> {
  let removed = 0
  for (const [parent, pattern] of stagingPatterns(dataDir)) removed += await removeMatching(parent, pattern)
  return removed
}

/** Removes the dirs in `parent` named by `pattern` that no running restore holds. */
async function removeMatching (parent: string, pattern: RegExp): Promise<number> {
  let removed = 0
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!pattern.test(name)) continue
    const dir = join(parent, name)
    try {
      await (await openDatastore(dir)).close()
    } catch (err) {
      if (err instanceof DataDirLockedError) continue
    }
    await rm(dir, { recursive: true, force: true })
    removed++
  }
  return removed
}

/** Parses an entry's JSON, or says which entry is not JSON. */
function parseJson<T> (bytes: Buffer, name: string): T {
  try {
    return JSON.parse(bytes.toString()) as T
  } catch {
    throw new BadBackupError(`not a Pinery backup: entry ${name} is not JSON`)
  }
}

/** Restores the archive read from `source` into `dataDir`, which must be missing or empty. */
export async function restoreBackup (
  source: AsyncIterable<Uint8Array>, dataDir: string, options: { signal?: AbortSignal } = {}
): Promise<RestoreReport> {
  const leftovers = await removeLeftovers(dataDir)
  if (!await isFree(dataDir)) throw new ConfigError(`${dataDir} is not empty: a backup is restored into a new data dir`)
  const { staging, inside } = await stagingDirOf(dataDir)
  const stores = await openStores(staging)
  let closed = false
  try {
    const seen: BackupTrailer = { keys: 0, blocks: 0, blockBytes: 0 }
    let manifest: BackupManifest | undefined
    let trailer: BackupTrailer | undefined
    let chunks = 0
    const tar = extract()
    const feeding = (async () => {
      for await (const chunk of source) {
        if (!tar.write(chunk)) await new Promise<void>(resolve => { tar.once('drain', () => { resolve() }) })
      }
      tar.end(undefined)
    })()
    feeding.catch((err: Error) => { tar.destroy(err) })
    for await (const entry of tar) {
      options.signal?.throwIfAborted()
      const name = entry.header.name
      // Only plain files: a link or directory entry could never come from the writer.
      if (entry.header.type !== 'file') throw new BadBackupError(`entry ${name} is a ${entry.header.type}, not a file`)
      const bytes = await readEntry(entry as AsyncIterable<Buffer>, name)
      if (trailer != null) throw new BadBackupError(`entry ${name} follows the archive's end`)
      if (manifest == null) {
        if (name !== MANIFEST) throw new BadBackupError(`not a Pinery backup: it starts with ${name}`)
        manifest = parseJson<BackupManifest>(bytes, name)
        if (manifest?.format !== BACKUP_FORMAT) {
          throw new BadBackupError(
            `backup format ${manifest?.format} is not the one this build reads (${BACKUP_FORMAT})`)
        }
      } else if (name.startsWith(DATASTORE_DIR)) {
        // In order, each once, before any block: a repeated or reordered chunk would overwrite newer values.
        if (name !== chunkName(chunks + 1) || seen.blocks > 0) {
          throw new BadBackupError(`entry ${name} is out of place: ${chunkName(chunks + 1)} comes next`)
        }
        chunks++
        const pairs = [...decodeChunk(bytes)]
        await stores.datastore.db.batch(pairs.map(([key, value]) => ({ type: 'put' as const, key, value })) as never,
          { keyEncoding: 'buffer', valueEncoding: 'buffer' } as never)
        seen.keys += pairs.length
      } else if (name.startsWith(BLOCKS_DIR)) {
        let cid: CID
        try {
          cid = CID.parse(name.slice(BLOCKS_DIR.length))
        } catch {
          throw new BadBackupError(`entry ${name} does not name a block by its CID`)
        }
        // Restored blocks are served as they are: one that does not hash to its CID is damage (or forgery).
        if (SUPPORTED_HASHES.has(cid.multihash.code) && !blockMatches(cid, bytes)) {
          throw new BadBackupError(`entry ${name} is damaged: its bytes do not hash to its CID`)
        }
        await stores.blockstore.put(cid, bytes, options)
        seen.blocks++
        seen.blockBytes += bytes.byteLength
      } else if (name === TRAILER) {
        trailer = parseJson<BackupTrailer>(bytes, name)
      } else {
        throw new BadBackupError(`unexpected entry ${name}`)
      }
    }
    await feeding
    if (manifest == null) throw new BadBackupError('the archive is empty')
    if (trailer == null) throw new BadBackupError('the archive ends early: it was cut off (no end entry)')
    if (trailer.keys !== seen.keys || trailer.blocks !== seen.blocks || trailer.blockBytes !== seen.blockBytes) {
      throw new BadBackupError(
        `the archive's end entry counts ${JSON.stringify(trailer)}, it held ${JSON.stringify(seen)}`)
    }
    // A sync failed during the restore (an early one in the background) dropped blocks: the restore fails.
    await stores.blockstore.sync(0)
    await syncDatastore(stores.datastore)()
    closed = true
    await stores.close()
    if (inside) {
      // Blocks first: the datastore is what makes a data dir a node, so it comes last.
      await rename(join(staging, 'blocks'), join(dataDir, 'blocks'))
      await rename(join(staging, 'datastore'), join(dataDir, 'datastore'))
    } else {
      await rmdir(dataDir).catch(() => {})
      await rename(staging, dataDir)
    }
    // The new names are durable before the restore says done: a power cut right after it left no data dir (the
    // node under the staging name, which the next start did not see and the next restore removed as a leftover).
    await fsyncPath(inside ? dataDir : dirname(dataDir))
    return { ...seen, manifest, leftovers }
  } finally {
    if (!closed) await stores.close().catch(() => {})
    await rm(staging, { recursive: true, force: true })
  }
}
