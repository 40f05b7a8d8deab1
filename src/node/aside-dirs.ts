/**
 * Shard directories a crash left renamed aside, put back when the block store opens (DurableFsBlockstore).
 * A shard directory whose parent's fsync failed is made again by renaming it away and back (shard-dirs.ts,
 * `<name>.<nonce><n>.redo`). A process that ends between the two renames (killed, or the exit 70 after a failed
 * record fsync, which comes with the same failing disk) left the directory under its aside name, and every
 * block in it, fsynced and reported `pinned`, was missing from the next start on: nothing looked for it
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
  const entries = await readdir(blocksDir, { withFileTypes: true })
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
