/**
 * Keeps garbage collection away from blocks that a fetch is working with but
 * has not pinned yet. Fetches protect each block before touching it; the
 * collector skips protected blocks and announces each deletion, so a fetch
 * that protects a block mid-deletion waits and then sees it gone.
 */
import type { CID } from 'multiformats/cid'
import { Counts } from '../counts.js'

/** Shared between fetches and the garbage collector. */
export interface GcGuard {
  /** Protects a block; resolves once no deletion of it is in flight. */
  protect(cid: CID): Promise<void>
  /** Protects a block by its blockKey() (for holders that keep keys rather than CIDs, see unprotectKey). */
  protectKey(key: string): Promise<void>
  unprotect(cid: CID): void
  /**
   * Unprotects a block by its blockKey(): for holders that keep keys rather
   * than CIDs until much later (72 bytes of heap a block rather than ≥ 700).
   */
  unprotectKey(key: string): void
  isProtected(cid: CID): boolean
  /** Runs `fn` (a deletion) unless the block is protected; resolves with what `fn` says it deleted. */
  deleteUnlessProtected(cid: CID, fn: () => Promise<boolean>): Promise<boolean>
}

/**
 * The guard's key: blocks are identified by multihash, whatever the CID's
 * codec or version. Encoded by Buffer, which makes one flat string:
 * multiformats' base32 builds it a character at a time, and V8 then keeps
 * ~50 string pieces (~1.7 KB) for every key held, per block of every fetch
 * and upload in flight.
 */
export function blockKey (cid: CID): string {
  const mh = cid.multihash.bytes
  return Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength).toString('base64')
}

/** Creates an empty guard. */
export function createGcGuard (): GcGuard {
  const protectedCounts = new Counts<string>()
  const deleting = new Map<string, Promise<void>>()
  const unprotectKey = (key: string): void => { protectedCounts.add(key, -1) }
  const protectKey = async (key: string): Promise<void> => {
    protectedCounts.add(key)
    await deleting.get(key)
  }
  return {
    async protect (cid) {
      await protectKey(blockKey(cid))
    },
    protectKey,
    unprotect (cid) {
      unprotectKey(blockKey(cid))
    },
    unprotectKey,
    isProtected (cid) {
      return protectedCounts.has(blockKey(cid))
    },
    async deleteUnlessProtected (cid, fn) {
      const key = blockKey(cid)
      if (protectedCounts.has(key) || deleting.has(key)) return false
      const done = fn().finally(() => deleting.delete(key))
      deleting.set(key, done.then(() => {}, () => {}))
      return await done
    }
  }
}
