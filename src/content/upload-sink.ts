/**
 * Where an upload writes its blocks: straight to the blockstore, each one
 * protected from garbage collection before it is written and until the
 * upload is settled, so a sweep cannot delete blocks that are stored but not
 * pinned yet. The sink remembers what it wrote, to delete exactly that when
 * the upload fails, and counts distinct bytes against the owner's quota.
 */
import { InsufficientFundsError, PayloadTooLargeError } from '../errors.js'
import { blockKey } from '../pins/gc-guard.js'
import type { GcGuard } from '../pins/gc-guard.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** One upload's view of the blockstore. */
export interface BlockSink {
  /** Stores a block (whose bytes match its CID), protected until release(). */
  put(cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<CID>
  /** Protects a block the upload uses but did not write (e.g. one another DAG shares). */
  protect(cid: CID): Promise<void>
  /** The size of a block this sink wrote. */
  sizeOf(cid: CID): number | undefined
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
   * Blocks the upload may write. Each costs ~1.8 KB until the upload settles (measured: 200,000
   * blocks of 3 bytes, an 8 MB CAR, +366 MB RSS), and blocks no root reaches cost no quota in the
   * end: without a bound, an 80 MB CAR of tiny blocks would hold ~3.6 GB.
   */
  maxBlocks: number
}

/** What a sink writes through. */
export interface BlockSinkComponents {
  blockstore: Pick<Blockstore, 'put'>
  guard: Pick<GcGuard, 'protect' | 'unprotect'>
  /** Deletes blocks unless pinned or protected (the garbage collector's discard). */
  discard(cids: CID[]): Promise<number>
}

/** Creates a sink for one upload. */
export function createBlockSink (init: BlockSinkInit, components: BlockSinkComponents): BlockSink {
  const { guard } = components
  const written = new Map<string, { cid: CID, size: number }>()
  const protectedCids: CID[] = []
  let bytes = 0
  let released = false

  const protect = async (cid: CID): Promise<void> => {
    if (released) throw new Error('the upload is settled already')
    protectedCids.push(cid)
    await guard.protect(cid)
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
          `storage quota exceeded: the upload grew past the ${init.budget} bytes left of the quota`)
      }
      await protect(cid)
      // Counted before the write so the entry exists for discard() even if the write fails midway.
      written.set(key, { cid, size: block.byteLength })
      bytes += block.byteLength
      await components.blockstore.put(cid, block, options)
      return cid
    },

    protect,

    sizeOf (cid) {
      return written.get(blockKey(cid))?.size
    },

    get bytes () {
      return bytes
    },

    release () {
      if (released) return
      released = true
      for (const cid of protectedCids) guard.unprotect(cid)
    },

    async discard () {
      this.release()
      await components.discard([...written.values()].map(w => w.cid))
    }
  }
}
