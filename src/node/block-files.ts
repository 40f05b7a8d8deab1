/**
 * One block file's system calls for DurableFsBlockstore (durable-blockstore.ts): writing a new file from a
 * buffer or the pieces a block arrived in, and making files durable one by one (fsync; all at once with syncfs:
 * sync-helper.ts). Through fs's callback API on plain descriptors, for the reasons and measurements given there.
 */
import * as fs from 'node:fs'
import { fsCall } from './fs-call.js'

/** What a block put may be given: one buffer, pieces in order, or a stream of them. */
export type Bytes = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>

/** fsync(2) of the file or directory at `path`; nothing when it is gone. */
export async function fsyncPath (path: string): Promise<void> {
  let fd: number
  try {
    fd = await fsCall<number>(cb => { fs.open(path, 'r', cb) })
  } catch (err) {
    // Deleted since it was written (collected as garbage): nothing left to make durable.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  try { await fsCall(cb => { fs.fsync(fd, cb) }) } finally { await fsCall(cb => { fs.close(fd, cb) }) }
}

/** Reads the file at `path` into `target` when it fits (a view of it), else into a new buffer (see getInto). */
export async function readInto (path: string, target: Uint8Array): Promise<Uint8Array> {
  const fd = await fsCall<number>(cb => { fs.open(path, 'r', cb) })
  try {
    const { size } = await fsCall<fs.Stats>(cb => { fs.fstat(fd, cb) })
    const bytes = size <= target.byteLength ? target.subarray(0, size) : new Uint8Array(size)
    for (let done = 0; done < size;) {
      const n = await fsCall<number>(cb => { fs.read(fd, bytes, done, size - done, done, cb) })
      if (n === 0) throw new Error(`block file ended at ${done} of ${size} bytes`)
      done += n
    }
    return bytes
  } finally {
    fs.close(fd, () => {})
  }
}

const NOTHING = new Uint8Array(0)

/**
 * Whether the file at `path` holds exactly `pieces`, in order (false when there is none: one failed open, and
 * nothing allocated unless it exists).
 */
export async function holdsExactly (path: string, pieces: Uint8Array[]): Promise<boolean> {
  const stored = await readInto(path, NOTHING).catch(() => undefined)
  let at = 0
  for (const piece of pieces) {
    if (stored == null || Buffer.compare(piece, stored.subarray(at, at + piece.byteLength)) !== 0) return false
    at += piece.byteLength
  }
  return stored != null && at === stored.byteLength
}

/**
 * Writes `val` to a new file (owner-only); closes it unless `keepOpen`, then resolves with its
 * descriptor. The callback API on a plain fd: fs/promises' FileHandle costs a handle object, its
 * close tracking and a promise per call on every block. A block given as an array of pieces (as
 * the lean bitswap receives it, block-bytes.ts) goes out with one writev instead of being joined
 * first or written piece by piece.
 */
export async function writeNewFile (path: string, val: Bytes, keepOpen: boolean): Promise<number | undefined> {
  const fd = await fsCall<number>(cb => { fs.open(path, 'w', 0o600, cb) })
  let ok = false
  try {
    if (val instanceof Uint8Array) await writeAll(fd, path, [val])
    else if (Array.isArray(val)) await writeAll(fd, path, val as Uint8Array[])
    else for await (const chunk of val) await writeAll(fd, path, [chunk])
    ok = true
  } finally {
    if (!ok || !keepOpen) await fsCall(cb => { fs.close(fd, cb) })
  }
  return keepOpen ? fd : undefined
}

/** Writes `pieces` in order at the fd's position, with one writev while the kernel takes it all. */
async function writeAll (fd: number, path: string, pieces: Uint8Array[]): Promise<void> {
  let left = pieces.filter(p => p.byteLength > 0)
  while (left.length > 0) {
    const current = left
    const one = current[0] as Uint8Array
    const written = current.length === 1
      ? await fsCall<number>(cb => { fs.write(fd, one, 0, one.byteLength, null, cb) })
      : await fsCall<number>(cb => { fs.writev(fd, current, null, cb) })
    if (written === 0) throw new Error(`no progress writing ${path}`)
    left = rest(current, written)
  }
}

/** What is left of `pieces` once their first `n` bytes are written. */
function rest (pieces: Uint8Array[], n: number): Uint8Array[] {
  let i = 0
  while (i < pieces.length && n >= (pieces[i] as Uint8Array).byteLength) n -= (pieces[i++] as Uint8Array).byteLength
  if (i === pieces.length) return []
  return [(pieces[i] as Uint8Array).subarray(n), ...pieces.slice(i + 1)]
}
