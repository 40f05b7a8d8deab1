/**
 * Lists the blocks and size of a DAG an upload has just stored, reading only
 * its inner nodes: raw leaves have no links, and the upload knows their
 * sizes. Blocks the upload did not write itself (shared with other DAGs) are
 * protected through the sink before they are counted, and hashed: one a power
 * cut left empty or short (its fetch never made it durable) counts as missing,
 * so the request is fetched (which fetches such a block again) rather than
 * answered `pinned` over it (test/power-cut-blocks.test.ts).
 */
import toBuffer from 'it-to-buffer'
import * as raw from 'multiformats/codecs/raw'
import { isErrorNamed } from '../errors.js'
import { walkDag, type DagWalkComponents } from '../pins/dag-walk.js'
import { blockMatches, IDENTITY } from '../pins/cid.js'
import { NotFoundError } from 'interface-store'
import type { BlockSink } from './upload-sink.js'
import type { StoredDag } from '../pins/types.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** What the measurement reads. */
export interface StoredDagComponents {
  blockstore: Pick<Blockstore, 'get'>
  getCodec: DagWalkComponents['getCodec']
}

/** The DAG's distinct blocks and total size, or undefined when a block of it is not stored. */
export async function measureStoredDag (
  root: CID,
  sink: Pick<BlockSink, 'protect' | 'sizeOf'>,
  components: StoredDagComponents,
  options: { signal?: AbortSignal } = {}
): Promise<StoredDag | undefined> {
  const read = async (cid: CID, o: { signal?: AbortSignal }): Promise<Uint8Array> => {
    const bytes = await toBuffer(components.blockstore.get(cid, o))
    // The upload's own blocks match their CIDs (the importer and the CAR reader made or checked them).
    if (sink.sizeOf(cid) == null && !blockMatches(cid, bytes)) throw new NotFoundError(`${cid.toString()} is torn`)
    return bytes
  }
  const guarded = async (cid: CID): Promise<void> => { if (sink.sizeOf(cid) == null) await sink.protect(cid) }
  try {
    const walk = await walkDag(root, { getBlock: read, getCodec: components.getCodec }, {
      concurrency: 16,
      skipRawLeaves: true,
      beforeBlock: guarded,
      ...(options.signal != null ? { signal: options.signal } : {})
    })
    let dagSize = walk.bytes
    for (const cid of walk.blocks) {
      if (cid.code !== raw.code) continue
      if (cid.multihash.code === IDENTITY) { dagSize += cid.multihash.digest.byteLength; continue }
      let size = sink.sizeOf(cid)
      if (size == null) {
        await guarded(cid)
        size = (await read(cid, options)).byteLength
      }
      dagSize += size
    }
    return { blocks: walk.blocks, dagSize }
  } catch (err) {
    if (isErrorNamed(err, 'NotFoundError')) return undefined
    throw err
  }
}
