/**
 * UnixFS import with kubo's defaults for `ipfs add --cid-version=1`, so a
 * file added here has the CID kubo gives it: CIDv1, raw leaves, 256 KiB
 * fixed-size chunks, a balanced DAG of up to 174 links per node, a lone
 * chunk being its own (raw) root, directories sharded (HAMT) once their
 * links pass 256 KiB. Content is streamed: the chunker holds one chunk.
 */
import { importer, type ImportCandidate, type ImporterOptions } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import type { UploadEntry } from './index.js'
import type { BlockSink } from './upload-sink.js'
import type { CID } from 'multiformats/cid'

/** kubo's import settings (see the module comment); exported for tests and tools. */
export const KUBO_IMPORT_OPTIONS = {
  cidVersion: 1,
  rawLeaves: true,
  chunker: fixedSize({ chunkSize: 262_144 }),
  layout: balanced({ maxChildrenPerNode: 174 }),
  reduceSingleLeafToSelf: true,
  shardSplitThresholdBytes: 262_144,
  shardSplitStrategy: 'links-bytes',
  fieldOrder: 'links-first'
} satisfies ImporterOptions

/**
 * Imports one file (one entry with path ''), or (`wrap`) entries under one
 * directory; resolves with the root CID. Blocks go to `sink`.
 */
export async function importUnixfs (
  source: AsyncIterable<UploadEntry>,
  sink: Pick<BlockSink, 'put'>,
  options: { wrap: boolean, signal?: AbortSignal }
): Promise<CID> {
  let root: CID | undefined
  const candidates = (async function * (): AsyncGenerator<ImportCandidate> {
    for await (const entry of source) {
      options.signal?.throwIfAborted()
      // A lone file has no path: kubo names it by its own CID, not a directory's.
      if (entry.content == null) yield { path: entry.path }
      else yield entry.path === '' ? { content: entry.content } : { path: entry.path, content: entry.content }
    }
  })()
  const put = async (cid: CID, bytes: unknown, o?: { signal?: AbortSignal }): Promise<CID> => {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('the importer passed a block that is not bytes')
    return await sink.put(cid, bytes, { signal: o?.signal ?? options.signal })
  }
  const results = importer(candidates, { put }, {
    ...KUBO_IMPORT_OPTIONS,
    wrapWithDirectory: options.wrap,
    // One file at a time: the importer otherwise pulls dozens of entries before reading any,
    // and a streamed multipart body only yields the next file once this one is read.
    fileImportConcurrency: 1,
    blockWriteConcurrency: 8
  })
  for await (const entry of results) root = entry.cid
  if (root == null) throw new Error('the import produced no root')
  return root
}
