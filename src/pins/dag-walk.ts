/**
 * Walks a DAG breadth-first with many blocks in flight at once. Used to fetch
 * a DAG wide (the stock walker asks for one block at a time) and to list a
 * local DAG's blocks when unpinning. Raw blocks have no links, so they are
 * never decoded, and identity blocks are never stored.
 */
import { createUnsafe } from 'multiformats/block'
import * as raw from 'multiformats/codecs/raw'
import { blockKey } from './block-guard.js'
import type { BlockCodec } from 'multiformats/codecs/interface'
import type { CID } from 'multiformats/cid'

/** How the walker reaches blocks and codecs. */
export interface DagWalkComponents {
  /** The block's bytes; may fetch from the network. */
  getBlock(cid: CID, options: { signal?: AbortSignal }): Promise<Uint8Array>
  getCodec(code: number): Promise<BlockCodec<number, unknown>>
}

/** Options of one walk. */
export interface DagWalkOptions {
  signal?: AbortSignal
  concurrency: number
  /** Called before a block is requested (e.g. to protect it from GC). */
  beforeBlock?(cid: CID): Promise<void>
  /** Called once per distinct block with its size. */
  onBlock?(cid: CID, size: number): void
  /** When true, blocks with a raw codec are not read (their size is not counted). */
  skipRawLeaves?: boolean
}

/** The distinct blocks of a DAG and their total size. */
export interface DagWalkResult {
  blocks: CID[]
  bytes: number
}

const IDENTITY = 0x00

/** Visits every distinct block reachable from `root`. */
export async function walkDag (root: CID, components: DagWalkComponents, options: DagWalkOptions): Promise<DagWalkResult> {
  const seen = new Set<string>([blockKey(root)])
  const blocks: CID[] = []
  // A queue with a moving head: shift() on a large array is O(n).
  let pending: CID[] = [root]
  let head = 0
  let bytes = 0
  let inFlight = 0
  let failure: unknown

  return await new Promise<DagWalkResult>((resolve, reject) => {
    const finish = (): void => {
      if (failure != null) { if (inFlight === 0) reject(failure); return }
      if (head === pending.length && inFlight === 0) resolve({ blocks, bytes })
    }
    const visit = async (cid: CID): Promise<void> => {
      blocks.push(cid)
      if (options.skipRawLeaves === true && cid.code === raw.code) return
      await options.beforeBlock?.(cid)
      const data = cid.multihash.code === IDENTITY ? cid.multihash.digest : await components.getBlock(cid, { signal: options.signal })
      bytes += data.byteLength
      options.onBlock?.(cid, data.byteLength)
      if (cid.code === raw.code) return
      const block = createUnsafe({ bytes: data, cid, codec: await components.getCodec(cid.code) })
      for (const [, child] of block.links()) {
        const key = blockKey(child)
        if (seen.has(key)) continue
        seen.add(key)
        pending.push(child)
      }
    }
    const pump = (): void => {
      while (failure == null && inFlight < options.concurrency && head < pending.length) {
        const cid = pending[head++] as CID
        if (head > 4096 && head * 2 > pending.length) { pending = pending.slice(head); head = 0 }
        inFlight++
        visit(cid).then(() => { inFlight--; pump() }, (err: unknown) => { inFlight--; failure ??= err; finish() })
      }
      finish()
    }
    pump()
  })
}
