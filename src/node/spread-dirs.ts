/**
 * Asks ext4 to spread a directory's subdirectories over the disk (`chattr +T`, the "top of a directory
 * hierarchy" flag): the blockstore's shard directories then each go where the Orlov allocator finds a block
 * group with few directories and many free inodes and blocks, instead of next to their parent.
 *
 * Why: ext4 places a new file in its directory's block group, and on a file system without a journal its
 * inode allocator skips every inode freed in the last 60 s (360 s while the inode table block is dirty),
 * rescanning the group from its first inode for every file it creates. Data dirs sit beside the rest of a
 * machine's short-lived files (the same parent, so the same groups), and after another process removed
 * thousands of files there, each new block file cost 240–530 µs of system CPU here against 13–14 µs with the
 * shards spread (2,048 empty files in 16 directories, three pairs, RESULTS.md round ten); a pin of 256 MiB
 * creates 1,024 files. With a journal ext4 does not skip those inodes and the flag only changes placement.
 * Other file systems do not know the flag; there, and where `chattr` is missing, nothing changes.
 */
import { execFile } from 'node:child_process'

/**
 * Sets the flag on `dir` (a directory this process made or owns); resolves whether `chattr` succeeded.
 * Run once when the blockstore opens, while the process is small (a spawn forks it).
 */
export async function spreadSubdirectories (dir: string): Promise<boolean> {
  if (process.platform !== 'linux') return false
  return await new Promise(resolve => {
    execFile('chattr', ['+T', dir], { timeout: 5000 }, err => { resolve(err == null) })
  })
}
