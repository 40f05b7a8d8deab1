/**
 * Where an upload writes its blocks: straight to the blockstore, each one
 * protected from garbage collection before it is written and until the
 * upload is settled, so a sweep cannot delete blocks that are stored but not
 * pinned yet. The sink remembers what it wrote, to delete exactly that when
 * the upload fails, and counts distinct bytes against the owner's quota.
 */
import toBuffer from 'it-to-buffer'
import { InsufficientFundsError, PayloadTooLargeError } from '../errors.js'
import { formatBytes } from '../byte-size.js'
import { blockKey } from '../pins/gc-guard.js'
import type { GcGuard } from '../pins/gc-guard.js'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'

/** One upload's view of the blockstore. */
export interface BlockSink {
  /** Stores a block (whose bytes match its CID), protected until release(). */
  put(cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<CID>
  /** Protects a block the upload uses but did not write (e.g. one another DAG shares). */
  protect(cid: CID): Promise<void>
  /** The size of a block this sink wrote. */
  sizeOf(cid: CID): number | undefined
  /** The blockKey() of every block this sink wrote (to store the list of an upload left waiting). */
  keys(): Iterable<string>
  /** Distinct bytes written so far. */
  readonly bytes: number
  /** Ends the protection: whatever is not pinned by now is garbage. */
  release(): void
  /** Releases, then deletes every block this sink wrote that nothing pins or protects. */
  discard(): Promise<void>
}

/** Settings of one sink. */
export interface BlockSinkInit {
  /** Distinct bytes the upload may write (the owner's quota room); Infinity for none. */
  budget: number
  /**
   * Blocks the upload may write. Each costs ~1.3 KB of RSS until the upload settles (measured with
   * bench:upload-blocks: 100,000 blocks of 100 bytes, +120 MB; 2.3 KB when the sink kept CIDs), and
   * blocks no root reaches cost no quota in the end: without a bound, an 80 MB CAR of tiny blocks
   * would hold ~2.6 GB. The default 500,000 is ~0.65 GB.
   */
  maxBlocks: number
}

/** What a sink writes through. */
export interface BlockSinkComponents {
  blockstore: Pick<Blockstore, 'put' | 'has' | 'get'>
  guard: Pick<GcGuard, 'protectKey' | 'unprotectKey'>
  /** Deletes blocks unless pinned or protected (the garbage collector's discard). */
  discard(cids: Iterable<CID>): Promise<number>
}

/** The CID of the block a blockKey() names: the store and the pins key blocks by multihash, as the key does. */
function cidOfKey (key: string): CID {
  return CID.createV1(raw.code, Digest.decode(Buffer.from(key, 'base64')))
}

/**
 * Creates a sink for one upload. It keeps one flat string and a size per block written (the
 * guard's key, shared with the guard), not the CID: a CID is four objects and three typed arrays
 * over its own ArrayBuffer, and held twice (written, protected) it was most of the ~2.3 KB of
 * RSS a tiny block cost until the upload settled (bench:upload-blocks, 100,000 blocks).
 */
export function createBlockSink (init: BlockSinkInit, components: BlockSinkComponents): BlockSink {
  const { guard } = components
  /** blockKey → size of each block written, each protected once until release(). */
  const written = new Map<string, number>()
  /** Keys protected for blocks the upload uses but did not write. */
  const others: string[] = []
  let bytes = 0
  let released = false

  /**
   * Whether the block is stored already, byte for byte (so whole: the upload's bytes match its CID). Such a
   * block is not written again: the put's new file, renamed over it and made durable only at the upload's
   * end, would let a power cut in between leave it empty where another request's acknowledged block was, on
   * file systems that commit a rename before the new file's data (XFS; btrfs below 1 MiB; ext4 with
   * noauto_da_alloc) (test/power-cut-blocks.test.ts). One that differs (cut short by a crash) is written anew.
   * A stored block is durable or is made so by the sync the upload waits for (a sync covers every block put
   * since the last, and the start syncs what an earlier process left).
   */
  const storedAs = async (cid: CID, block: Uint8Array, options?: { signal?: AbortSignal }): Promise<boolean> => {
    if (!await components.blockstore.has(cid, options)) return false
    try {
      return Buffer.compare(await toBuffer(components.blockstore.get(cid, options)), block) === 0
    } catch {
      return false // unreadable: written anew
    }
  }

  const check = (): void => {
    if (released) throw new Error('the upload is settled already')
  }

  return {
    async put (cid, block, options) {
      options?.signal?.throwIfAborted()
      const key = blockKey(cid)
      if (written.has(key)) return cid
      if (written.size >= init.maxBlocks) {
        throw new PayloadTooLargeError(`the upload has more than ${init.maxBlocks} blocks; split it into several`)
      }
      if (bytes + block.byteLength > init.budget) {
        throw new InsufficientFundsError(
          `storage quota exceeded: the upload grew past the ${formatBytes(init.budget)} left of the quota`)
      }
      check()
      // Counted before the write so the entry exists for discard() even if the write fails midway.
      written.set(key, block.byteLength)
      bytes += block.byteLength
      await guard.protectKey(key)
      if (!await storedAs(cid, block, options)) await components.blockstore.put(cid, block, options)
      return cid
    },

    async protect (cid) {
      check()
      const key = blockKey(cid)
      others.push(key)
      await guard.protectKey(key)
    },

    sizeOf (cid) {
      return written.get(blockKey(cid))
    },

    keys () {
      return written.keys()
    },

    get bytes () {
      return bytes
    },

    release () {
      if (released) return
      released = true
      for (const key of written.keys()) guard.unprotectKey(key)
      for (const key of others) guard.unprotectKey(key)
    },

    async discard () {
      this.release()
      await components.discard((function * () { for (const key of written.keys()) yield cidOfKey(key) })())
    }
  }
}
