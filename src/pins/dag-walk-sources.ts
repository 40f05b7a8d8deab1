/**
 * Where the DAG walker gets blocks: from the local blockstore, and for the
 * network source, from bitswap when missing (then stored). Blocks from
 * bitswap are already verified against their CID, so nothing is hashed twice.
 */
import toBuffer from 'it-to-buffer'
import type { DagWalkComponents } from './dag-walk.js'
import type { BlockBytes } from '../node/block-bytes.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** What the sources read from and fetch with. */
export interface BlockSourceComponents {
  blockstore: Pick<Blockstore, 'has' | 'get' | 'put'>
  getCodec: DagWalkComponents['getCodec']
  /** Fetches a verified block from the network (as the pieces it arrived in, if so). */
  want(cid: CID, options: { signal?: AbortSignal }): Promise<BlockBytes>
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
      if (await blockstore.has(cid, options)) return await toBuffer(blockstore.get(cid, options))
      const bytes = await components.want(cid, options)
      // Pieces go to the blockstore as they are: DurableFsBlockstore writes them with one writev.
      await blockstore.put(cid, bytes, options)
      return bytes
    }
  }
}
