/**
 * Shard directories a process left renamed aside, put back when the block store opens (DurableFsBlockstore).
 * A shard directory whose parent's fsync failed is made again by renaming it away and back (shard-dirs.ts,
 * `<name>.<nonce><n>.redo`). A process that ended between the two renames (killed, or its exit 70 after a failed
 * record fsync on the same failing disk), or whose second rename failed, left it under the aside name, and no
 * start looked for it: the directory and its blocks stayed on disk for good, out of the store's reach and its
 * collector's. None of them had been reported pinned (a repaired directory holds only the files its failed sync
 * distrusted, already removed, and puts made since, whose pins had not synced): a leak, not a loss
 * (test/node/aside-dirs.test.ts). Runs before the start's sync, which makes the renames durable.
 */
import { readdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'

/** A shard directory's name while a repair has it aside: `<name>.<8 hex: the store's nonce><count>.redo`. */
export const ASIDE_DIR = /^(.+)\.[0-9a-f]{8}[0-9a-z]+\.redo$/

/**
 * Renames each directory of `blocksDir` left aside back to its name. Where a directory of that name exists
 * again (made by a put of a build without this), the aside one's files it lacks are moved into it. Returns the
 * names restored.
 */
export async function restoreAsideDirs (blocksDir: string): Promise<string[]> {
  // Not a directory: storage.ts's check at open says so, in words.
  const entries = await readdir(blocksDir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOTDIR') return []
    throw err
  })
  const names = new Set(entries.map(e => e.name))
  const restored: string[] = []
  for (const entry of entries) {
    const name = ASIDE_DIR.exec(entry.name)?.[1]
    if (name == null || !entry.isDirectory()) continue
    const aside = join(blocksDir, entry.name)
    const target = join(blocksDir, name)
    if (!names.has(name)) {
      await rename(aside, target)
      names.add(name)
    } else {
      const present = new Set(await readdir(target))
      for (const file of await readdir(aside)) {
        if (!present.has(file)) await rename(join(aside, file), join(target, file))
      }
      await rm(aside, { recursive: true, force: true })
    }
    restored.push(name)
  }
  return restored
}
