/**
 * A range of a UnixFS file's bytes written to a sink: the file's DAG walked
 * depth-first by dag-order.ts (read ahead into reused slots, raw leaves never
 * decoded), subtrees outside the range skipped by their block sizes, the
 * bytes batched by batched-writer.ts.
 *
 * Kept instead of ipfs-unixfs-exporter's content() for gateway bodies: that
 * one reads every wanted child of a node at once and pushes the bytes into
 * an unbounded queue whatever the client takes, so a slow client made
 * Pinery hold the whole file (measured: RSS 273 → 499 MiB within 4 s of a
 * 256 MiB file read at 1 MiB/s), and it served 109 MiB/s at 2.96 CPU-s/GiB
 * (a new buffer per block; load average ~15). The exporter still resolves
 * paths and reads the first bytes for sniffing.
 */
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { batchedWriter, type BufferPool } from './batched-writer.js'
import { dagInOrder, type DagNode, type DagOrderComponents } from './dag-order.js'
import type { ByteSink } from './index.js'
import type { CID } from 'multiformats/cid'

/** What writing a file reads with. */
export interface FileWriteComponents {
  read: DagOrderComponents<number>['read']
  slots: BufferPool
  batches: BufferPool
}

/** A file whose blocks do not add up to what its root says; the response is cut off. */
export class BrokenFileError extends Error {
  static override name = 'BrokenFileError'
  override name = BrokenFileError.name
}

/**
 * Links looked at and blocks walked before the first byte, and then per byte written, at most. An
 * honest file takes ~2 per byte even with 1-byte chunks (a leaf and its link) and a few thousand to
 * reach any offset; a file whose sizes lie, or that links empty subtrees or a long chain over and
 * over, made one GET walk N² blocks and write nothing (a 10 KB pinned file: 9 million blocks).
 */
const FREE_WORK = 10_000
const WORK_PER_BYTE = 16

/** A file node's UnixFS data: its own bytes and its children's sizes. */
function unixfsOf (bytes: Uint8Array): { node: dagPb.PBNode, data: Uint8Array, sizes: bigint[] } {
  const node = dagPb.decode(bytes)
  if (node.Data == null) throw new BrokenFileError('a file node has no UnixFS data')
  const file = UnixFS.unmarshal(node.Data)
  if (file.type !== 'file' && file.type !== 'raw') throw new BrokenFileError(`a ${file.type} node inside a file`)
  if (node.Links.length !== file.blockSizes.length) throw new BrokenFileError('links and block sizes do not match')
  return { node, data: file.data ?? new Uint8Array(0), sizes: file.blockSizes }
}

/**
 * Writes `length` bytes from `offset` of the file at `root` (a dag-pb UnixFS
 * file or a raw block) to `sink`. Each node's tag is where it starts in the file.
 */
export async function writeFileRange (
  root: CID,
  range: { offset: number, length: number },
  sink: ByteSink,
  components: FileWriteComponents,
  options: { signal?: AbortSignal, ahead: number }
): Promise<void> {
  const start = range.offset
  const end = range.offset + range.length
  let written = 0
  let work = 0
  const spend = (units: number): void => {
    work += units
    if (work > FREE_WORK + WORK_PER_BYTE * written) {
      throw new BrokenFileError(`the file took ${work} blocks and links for ${written} bytes`)
    }
  }
  const children = async ({ cid, tag }: DagNode<number>, bytes: Uint8Array): Promise<Array<DagNode<number>>> => {
    if (cid.code !== dagPb.code) throw new BrokenFileError(`a block of codec ${cid.code} inside a file`)
    const { node, data, sizes } = unixfsOf(bytes)
    const kept: Array<DagNode<number>> = []
    let at = tag + data.byteLength
    let i = 0
    for (; i < node.Links.length && at < end; i++) {
      const next = at + Number(sizes[i])
      // An empty subtree holds nothing to write.
      if (next > start && next > at) kept.push({ cid: (node.Links[i] as dagPb.PBLink).Hash, tag: at })
      at = next
    }
    spend(i)
    return kept
  }
  const { signal } = options
  const out = batchedWriter(sink, { batches: components.batches, ...(signal != null ? { signal } : {}) })
  const walk = dagInOrder({ cid: root, tag: 0 }, { read: components.read, children, slots: components.slots },
    { ...options, identities: true })
  for (;;) {
    const next = await walk.next().catch(async (err: unknown) => {
      await out.flush() // what came before the failure goes out
      throw err
    })
    if (next.done === true) break
    const { cid, tag, bytes } = next.value
    try {
      spend(1)
    } catch (err) {
      await walk.return(undefined)
      await out.flush()
      throw err
    }
    const data = cid.code === raw.code ? bytes : unixfsOf(bytes).data
    const from = Math.max(start - tag, 0)
    const to = Math.min(end - tag, data.byteLength)
    if (to <= from) continue
    try {
      await out.append(data.subarray(from, to))
    } catch (err) {
      await walk.return(undefined)
      throw err
    }
    written += to - from
  }
  if (written !== range.length) {
    await out.flush()
    throw new BrokenFileError(`the file's blocks hold ${written} of the ${range.length} bytes asked for`)
  }
  await out.end()
}
