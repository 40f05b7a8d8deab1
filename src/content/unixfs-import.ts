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

/** How to import. */
export interface ImportOptions {
  /** Entries under one directory (else one file, one entry with path ''). */
  wrap: boolean
  /**
   * With `wrap`, a source of exactly one file with no directory in its path gives the file's own CID, as
   * `ipfs add report.pdf` and Pinata's pinFileToIPFS do; its wrapping directory is never stored.
   */
  unwrapLoneFile?: boolean
  signal?: AbortSignal
}

/** Imports `source` as `options` say; resolves with the root CID. Blocks go to `sink`. */
export async function importUnixfs (
  source: AsyncIterable<UploadEntry>,
  sink: Pick<BlockSink, 'put'>,
  options: ImportOptions
): Promise<CID> {
  let root: CID | undefined
  let entries = 0
  let ended = false
  /** The path of the first entry while it may be a lone file, and its CID once the importer gave it. */
  let lone: { path: string, cid?: CID } | undefined
  // Whether the import is of one lone file whose wrapping directory is to go. The directory cannot be told
  // apart earlier: a streamed form says it holds one part only at its end. The importer builds the directory
  // once its source ended, after every block of the file was put and the file's entry came out, so from
  // then on the one block it puts is the directory's.
  const unwrapped = (): CID | undefined => options.unwrapLoneFile === true && ended ? lone?.cid : undefined
  const candidates = (async function * (): AsyncGenerator<ImportCandidate> {
    for await (const entry of source) {
      options.signal?.throwIfAborted()
      lone = ++entries === 1 && entry.content != null && !entry.path.includes('/') ? { path: entry.path } : undefined
      // A lone file has no path: kubo names it by its own CID, not a directory's.
      if (entry.content == null) yield { path: entry.path }
      else yield entry.path === '' ? { content: entry.content } : { path: entry.path, content: entry.content }
    }
    ended = true
  })()
  const put = async (cid: CID, bytes: unknown, o?: { signal?: AbortSignal }): Promise<CID> => {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('the importer passed a block that is not bytes')
    if (unwrapped() != null) return cid
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
  for await (const entry of results) {
    if (lone != null && lone.cid == null && entry.path === lone.path) lone.cid = entry.cid
    root = entry.cid
  }
  if (root == null) throw new Error('the import produced no root')
  return unwrapped() ?? root
}
