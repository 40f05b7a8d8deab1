/**
 * Where the DAG walker gets blocks: from the local blockstore, and for the
 * network source, from bitswap when missing (then stored). Blocks from
 * bitswap are already verified against their CID. A block found on disk is
 * hashed once more before a network pin trusts it: one put but never made
 * durable (its pin not yet acknowledged) can be left empty or short by a
 * power cut, as ext4 commits the file's name before its delayed data, and
 * such a file would otherwise be pinned as it is. Hashing costs ~0.14 CPU-s
 * per 256 MiB here (SHA-NI), paid only for blocks already present.
 */
import toBuffer from 'it-to-buffer'
import { blockMatches } from './cid.js'
import type { DagWalkComponents } from './dag-walk.js'
import type { Logger } from '../logger.js'
import type { BlockBytes } from '../node/block-bytes.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** What the sources read from and fetch with. */
export interface BlockSourceComponents {
  blockstore: Pick<Blockstore, 'has' | 'get' | 'put'>
  getCodec: DagWalkComponents['getCodec']
  /** Fetches a verified block from the network (as the pieces it arrived in, if so). */
  want(cid: CID, options: { signal?: AbortSignal }): Promise<BlockBytes>
  /** Says when a stored block does not match its CID (and is fetched again). */
  logger?: Pick<Logger, 'warn'>
}

/** Reads local blocks only; a missing block is an error. */
export function localBlockSource (components: Omit<BlockSourceComponents, 'want'>): DagWalkComponents {
  return {
    getCodec: components.getCodec,
    getBlock: async (cid, options) => await toBuffer(components.blockstore.get(cid, options))
  }
}

/** Reads local blocks, fetching and storing the missing ones. */
export function networkBlockSource (components: BlockSourceComponents): DagWalkComponents {
  const { blockstore } = components
  return {
    getCodec: components.getCodec,
    async getBlock (cid, options) {
      if (await blockstore.has(cid, options)) {
        const stored = await toBuffer(blockstore.get(cid, options))
        if (blockMatches(cid, stored)) { options.onArrived?.(); return stored }
        // The put below replaces the file (write, then rename over it) and is made durable before pinning.
        components.logger?.warn({ cid: cid.toString(), bytes: stored.byteLength },
          'a stored block does not match its CID (cut short by a crash?); fetching it again')
      }
      const bytes = await components.want(cid, options)
      options.onArrived?.()
      // Pieces go to the blockstore as they are: DurableFsBlockstore writes them with one writev.
      const write = (async () => { await blockstore.put(cid, bytes, options) })()
      if (options.deferWrite == null) await write
      else options.deferWrite(write)
      return bytes
    }
  }
}
