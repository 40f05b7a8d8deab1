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
   * With `wrap`, a source whose entries all lie in one top-level entry gives that entry's own CID: one file with
   * no directory in its path as `ipfs add report.pdf` (and Pinata's pinFileToIPFS) gives it, one folder as
   * `ipfs add -r site` does (before, `site/…` parts gave a directory holding `site`, kubo's `-r -w`). The
   * wrapping directory is never stored. Asked once the source has ended (a form's field says it before its files).
   */
  unwrapLone?: () => boolean
  signal?: AbortSignal
}

/** Imports `source` as `options` say; resolves with the root CID. Blocks go to `sink`. */
export async function importUnixfs (
  source: AsyncIterable<UploadEntry>,
  sink: Pick<BlockSink, 'put'>,
  options: ImportOptions
): Promise<CID> {
  let root: CID | undefined
  let ended = false
  /** The top-level entry every entry so far lies in (null once two differ), and its CID once the importer gave it. */
  let top: { path: string, cid?: CID } | null | undefined
  const candidates = (async function * (): AsyncGenerator<ImportCandidate> {
    for await (const entry of source) {
      options.signal?.throwIfAborted()
      const first = entry.path.split('/')[0] as string
      if (top === undefined) top = { path: first }
      else if (top?.path !== first) top = null
      // A lone file has no path: kubo names it by its own CID, not a directory's.
      if (entry.content == null) yield { path: entry.path }
      else yield entry.path === '' ? { content: entry.content } : { path: entry.path, content: entry.content }
    }
    ended = true
  })()
  // The wrapping directory cannot be told apart earlier: a streamed form says what it holds only at its end. The
  // importer puts a directory after its children and the root last, once its source ended: so each block put
  // since then is held until the next, and the last one, the root, is put only if the root stays the wrapper.
  let held: { cid: CID, bytes: Uint8Array } | undefined
  const write = async (block: { cid: CID, bytes: Uint8Array }, signal?: AbortSignal): Promise<CID> =>
    await sink.put(block.cid, block.bytes, { signal: signal ?? options.signal })
  const put = async (cid: CID, bytes: unknown, o?: { signal?: AbortSignal }): Promise<CID> => {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('the importer passed a block that is not bytes')
    if (!ended || options.unwrapLone?.() !== true) return await write({ cid, bytes }, o?.signal)
    const before = held
    held = { cid, bytes }
    if (before != null) await write(before, o?.signal)
    return cid
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
    if (top != null && top.path !== '' && entry.path === top.path) top.cid = entry.cid
    root = entry.cid
  }
  if (root == null) throw new Error('the import produced no root')
  const lone = options.wrap && options.unwrapLone?.() === true ? top?.cid : undefined
  if (held != null && (lone == null || !held.cid.equals(root))) await write(held)
  return lone ?? root
}
