/**
 * Whether the block store was left with nothing unsynced, so that its start can skip making it durable
 * (start-sync.ts), for DurableFsBlockstore (durable-blockstore.ts). The start's syncfs is cheap, but where it is
 * not available (no `sync -f` or perl: a distroless image; an old coreutils) every start fsynced each block file
 * (scripts/bench/start-sync.ts; RESULTS.md round fifteen). A store closed after a sync that covered every put,
 * in a process where no sync failed, writes a mark beside its directory: the identity and change time (ctime,
 * which no call can set: only a system clock set back to the very tick could repeat one) of the directory and of
 * each shard directory. Any entry made or removed in one since, by anyone (a build before this one, a killed
 * process, a copy by hand), changes its ctime, so the start trusts the mark only while every directory is as it
 * says; the mark is removed as the store opens, so a process killed later leaves none. A block file rewritten in
 * place would not show: nothing here writes one so (puts rename a new file over the name). The mark is not
 * fsynced: a power cut that loses it makes the next start sync as before, and one that keeps it leaves nothing
 * unsynced (after a reboot, what is read came from the disk).
 */
import * as fs from 'node:fs'
import { readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** The mark's file, beside the block store's directory (inside it, writing the mark would change its ctime). */
function markOf (blocksDir: string): string {
  return `${blocksDir}.clean`
}

/** Each directory of the store (itself first, then its shard directories by name) as `name ino ctime-ns`. */
async function fingerprint (blocksDir: string): Promise<string[]> {
  const entries = await fs.promises.readdir(blocksDir, { withFileTypes: true })
  const names = ['', ...entries.filter(e => e.isDirectory()).map(e => e.name).sort()]
  return await Promise.all(names.map(async name => {
    const st = await fs.promises.stat(join(blocksDir, name), { bigint: true })
    return `${name} ${st.ino} ${st.ctimeNs}`
  }))
}

/**
 * At close, once `quiet()` says nothing is left unsynced: writes the mark (a new file renamed over the name, so
 * a kill mid-write leaves none half written). Writes none if `quiet()` says otherwise once the directories are
 * read (a put that ended meanwhile). Errors are the caller's to ignore: without a mark the start syncs.
 */
export async function markClean (blocksDir: string, quiet: () => boolean): Promise<boolean> {
  if (!quiet()) return false
  const dirs = await fingerprint(blocksDir)
  if (!quiet()) return false
  const temp = `${markOf(blocksDir)}.tmp`
  await writeFile(temp, JSON.stringify({ version: 1, dirs }) + '\n', { mode: 0o600 })
  await rename(temp, markOf(blocksDir))
  return true
}

/**
 * At open, before anything is put: whether the store is as the last process of this build left it, clean
 * (see the top). Removes the mark either way.
 */
export async function takeCleanMark (blocksDir: string): Promise<boolean> {
  const mark = markOf(blocksDir)
  let text: string
  try {
    text = await readFile(mark, 'utf8')
  } catch {
    return false
  }
  try {
    await unlink(mark)
    const { version, dirs } = JSON.parse(text) as { version?: number, dirs?: unknown }
    if (version !== 1 || !Array.isArray(dirs)) return false
    const now = await fingerprint(blocksDir)
    return now.length === dirs.length && now.every((line, i) => line === dirs[i])
  } catch {
    return false
  }
}
