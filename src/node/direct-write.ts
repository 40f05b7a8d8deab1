/**
 * Large block files written around the page cache (O_DIRECT). A buffered write copies the block
 * into page-cache pages the kernel takes fresh from its free lists, and on this machine kind (a VM
 * whose freed memory is handed back to the host) touching such a page costs a host fault charged
 * to the writing thread: profiled during a 1 GiB pin, `copy_folio_from_iter_atomic` was half of
 * the file system threads' 2.9 CPU-s; 256 KiB files from a hot buffer cost 0.36–0.70 s of system
 * CPU per 256 MiB buffered against 0.07 with O_DIRECT (scripts/bench/RESULTS.md, round six).
 * The bytes are copied into a reused, page-aligned slot first (O_DIRECT wants the buffer, length
 * and offset aligned; received blocks are views of Noise frames at any address). Durability is
 * unchanged: the file's size and extents still reach the disk only with the blockstore's sync().
 * Blocks whose size is not a multiple of 4096 (the last leaf of a file, dag-pb nodes) or above a
 * slot, and file systems that refuse O_DIRECT (tmpfs on older
 * kernels) take the buffered path.
 */
import * as fs from 'node:fs'
import { fsCall } from './fs-call.js'

/** Alignment of buffer, length and offset: covers disks with 512- and 4096-byte sectors. */
const ALIGN = 4096
/** Below this a block goes through the page cache: the copy is small and the device round trip is not. */
const MIN_BYTES = 64 * 1024
/** Largest block written directly (the usual chunkers cut 256 KiB or 1 MiB). */
const SLOT_BYTES = 1024 * 1024
/**
 * Blocks being written at once; more wait, holding their bytes. Each write waits on the device, so
 * the slots set how many are in flight; with too few, received blocks queue up in memory: peak RSS
 * of a 256 MiB pin with 8 / 16 / 32 slots 467 / 444 / 395 MiB (buffered: 370), 1 GiB with 8 / 32
 * 556 / 440 (buffered 409).
 */
const SLOTS = 32
const WASM_PAGE = 65536

/** The one WebAssembly API used here, for its page-aligned memory (the project's TypeScript libs leave it out). */
declare const WebAssembly: { Memory: new (size: { initial: number, maximum: number }) => { buffer: ArrayBuffer } }

/**
 * One page-aligned buffer, made when a write finds no free one that fits (up to SLOTS), as large as
 * that block (in 64 KiB WebAssembly pages). V8 counts a WebAssembly memory in full as external
 * memory, and with this project's V8 defaults (src/v8-flags.ts) external memory raises the heap's
 * next GC limit: one memory of 32 slots of 1 MiB made up front (round six) raised an upload's peak
 * RSS by ~33 MiB at 64 MiB (bench:content, RESULTS.md round seven). Made on demand, slots cost what
 * the writes in flight need: 8 × 256 KiB for an upload (blockWriteConcurrency), 32 × 256 KiB for
 * a pin of 256 KiB leaves.
 */
interface Slot { buffer: ArrayBuffer }

/** Writes a new file with O_DIRECT where it can. */
export interface DirectWriter {
  /**
   * Writes `pieces` (`size` bytes in all) into the file at `path` (created or truncated, mode 0600)
   * and closes it; false when this block or this file system is not for O_DIRECT, in which case
   * the caller writes the file the usual way (an empty or partial file may have been left at
   * `path`: the caller's write truncates it).
   */
  write(path: string, pieces: readonly Uint8Array[], size: number): Promise<boolean>
}

const refused = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'EINVAL'

/** A writer with its own slots, made as concurrent writes need them (see Slot). */
export function createDirectWriter (): DirectWriter {
  const flag = fs.constants.O_DIRECT
  let off = flag == null
  let made = 0
  const free: Slot[] = []
  // Puts waiting for a slot, first come first served: with up to 256 blocks fetched at once, a put
  // that found every slot busy and went buffered instead was most of them (profiled).
  const waiting: Array<(slot: Slot) => void> = []
  const release = (slot: Slot): void => {
    const next = waiting.shift()
    if (next != null) next(slot)
    else free.push(slot)
  }

  /** A new slot of at least `size` bytes; undefined when V8 gives no WebAssembly memory. */
  function make (size: number): Slot | undefined {
    const pages = Math.ceil(size / WASM_PAGE)
    try {
      return { buffer: new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer }
    } catch {
      // V8 reserves address space around WebAssembly memory; under a tight `ulimit -v` it may get none.
      return undefined
    }
  }

  /** A free slot that fits, else a new one while fewer than SLOTS exist, else the next one released. */
  async function take (size: number): Promise<Slot | undefined> {
    const fits = free.findLastIndex(s => s.buffer.byteLength >= size)
    if (fits >= 0) return free.splice(fits, 1)[0]
    let slot: Slot | undefined
    if (made < SLOTS) {
      slot = make(size)
      if (slot != null) made++
      else if (made === 0) off = true
      if (slot != null || made === 0) return slot
    }
    slot = free.pop() ?? await new Promise<Slot>(resolve => { waiting.push(resolve) })
    if (slot.buffer.byteLength >= size) return slot
    // Too small for this block: a larger one takes its place (the old memory is garbage).
    const larger = make(size)
    if (larger == null) release(slot)
    return larger
  }

  async function writeSlot (path: string, slot: Uint8Array): Promise<boolean> {
    let fd: number
    try {
      const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | flag
      fd = await fsCall<number>(cb => { fs.open(path, flags, 0o600, cb) })
    } catch (err) {
      if (!refused(err)) throw err
      off = true
      return false
    }
    try {
      for (let done = 0; done < slot.byteLength;) {
        const n = await fsCall<number>(cb => { fs.write(fd, slot, done, slot.byteLength - done, done, cb) })
        if (n === 0 || n % ALIGN !== 0) throw new Error(`O_DIRECT write of ${path} stopped at ${done + n} bytes`)
        done += n
      }
      return true
    } catch (err) {
      if (!refused(err)) throw err
      off = true
      return false
    } finally {
      await fsCall(cb => { fs.close(fd, cb) })
    }
  }

  return {
    async write (path, pieces, size) {
      if (off || size < MIN_BYTES || size > SLOT_BYTES || size % ALIGN !== 0) return false
      // WebAssembly memory is page-aligned; Node's Buffers are not (malloc's header precedes them).
      const taken = await take(size)
      if (taken == null) return false
      try {
        if (off) return false
        const slot = new Uint8Array(taken.buffer, 0, size)
        let at = 0
        for (const piece of pieces) { slot.set(piece, at); at += piece.byteLength }
        return await writeSlot(path, slot)
      } finally {
        release(taken)
      }
    }
  }
}
