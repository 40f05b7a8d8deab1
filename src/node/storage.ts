/**
 * Opens the data dir: blocks in `<dir>/blocks`, everything else in the
 * LevelDB at `<dir>/datastore`. Used by the service and by the offline CLI.
 */
import { mkdir, access, constants } from 'node:fs/promises'
import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { LevelDatastore } from 'datastore-level'
import { ConfigError, DataDirLockedError } from '../errors.js'

/** The two stores of one data dir. */
export interface Stores {
  datastore: LevelDatastore
  blockstore: FsBlockstore
  close(): Promise<void>
}

/** Makes sure `dir` exists and is writable; throws a one-line ConfigError otherwise. */
export async function ensureWritableDir (dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true })
    await access(dir, constants.W_OK)
  } catch (err) {
    throw new ConfigError(`data dir ${dir} is not writable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/** Opens only the datastore (the CLI needs nothing else). */
export async function openDatastore (dataDir: string): Promise<LevelDatastore> {
  await ensureWritableDir(dataDir)
  const datastore = new LevelDatastore(join(dataDir, 'datastore'))
  try {
    await datastore.open()
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause
    if (cause?.code === 'LEVEL_LOCKED' || /lock/i.test(String((err as Error).message) + String(cause))) {
      throw new DataDirLockedError(`the data dir ${dataDir} is in use by another process (is the Pinery service running?)`)
    }
    throw err
  }
  return datastore
}

/** Opens both stores of `dataDir`, creating them when missing. */
export async function openStores (dataDir: string): Promise<Stores> {
  const datastore = await openDatastore(dataDir)
  const blockstore = new FsBlockstore(join(dataDir, 'blocks'))
  try {
    await blockstore.open()
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
