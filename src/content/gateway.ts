/**
 * The read side of /ipfs/{cid}[/path]: only DAGs this node pins (any
 * request's; bitswap serves the same blocks to any peer anyway) and only
 * from the local blockstore, so a read never fetches from the network. Paths
 * resolve through UnixFS directories (HAMT-sharded ones too) with
 * ipfs-unixfs-exporter. CARs and file bodies are read ahead in their
 * order into reused buffers (dag-order.ts) and written in large batches at
 * the pace the client takes them (batched-writer.ts, car.ts, unixfs-file.ts).
 */
import { exporter, walkPath, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import { raceSignal } from 'race-signal'
import toBuffer from 'it-to-buffer'
import * as raw from 'multiformats/codecs/raw'
import { NotAcceptableError, NotFoundError } from '../errors.js'
import { blockKey } from '../pins/gc-guard.js'
import { BATCH_BYTES, BLOCK_SLOT_BYTES, bufferPool } from './batched-writer.js'
import { writeCar } from './car.js'
import { dagInOrder, type DagNode } from './dag-order.js'
import { BrokenFileError, writeFileRange } from './unixfs-file.js'
import { IDENTITY } from '../pins/cid.js'
import { blockLinks } from '../pins/dag-walk.js'
import { canonicalCidKey } from '../pins/request-pins.js'
import type { ByteSink, Gateway, GatewayEntry } from './index.js'
import type { DagWalkComponents } from '../pins/dag-walk.js'
import type { DagPins } from '../pins/dag-pins.js'
import type { RecordStore } from '../pins/record-store.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** What the gateway reads. */
export interface GatewayComponents {
  /** The local blockstore; identity CIDs need not be stored. */
  blockstore: Pick<Blockstore, 'get'>
  getCodec: DagWalkComponents['getCodec']
  /** Whether a block belongs to a pinned DAG. */
  pins: Pick<DagPins, 'isPinned'>
  /** Whether a live pin request names a CID (by canonicalCidKey): a raw identity CID's only pin is its record. */
  requests: Pick<RecordStore, 'isReferenced'>
  /**
   * Reads a stored block into `target` when it fits (a view of it), else into a buffer of its own:
   * spares CAR exports and file bodies a new buffer per block. Without it, `blockstore.get` reads them.
   */
  readInto?(cid: CID, target: Uint8Array, options: { signal?: AbortSignal }): Promise<Uint8Array>
}

// A CAR export or file body reads this many blocks ahead, each into a slot that fits a 256 KiB chunk
// with its dag-pb framing (larger blocks get a buffer of their own), and holds at most 5 batches of
// 1 MiB: ~9 MiB per response. Slots and batches are reused across responses, a few idle ones kept.
// Deeper (32 ahead, 8 batches in flight) measured no steadier gain in gateway-compare runs.
const CAR_AHEAD = 16

/**
 * Entries of a directory listing, and blocks read for one request through the exporter, at most.
 * The exporter lists a sharded directory by descending every link named like a bucket, however
 * often it names the same shard: three 40 KB shards linking each other a thousand times a level
 * make one GET gather 10⁹ entries (~100 GB) in memory. A real shard is linked once.
 */
const MAX_LISTING = 100_000

const tooLarge = (cid: CID): NotAcceptableError => new NotAcceptableError(`directory ${cid.toString()} has more ` +
  `than ${MAX_LISTING} entries or shards to list: ask for its CAR (Accept: application/vnd.ipld.car)`)

// The exporter's and the blockstore's ways of saying "no such thing".
const MISSING = new Set(['NotFoundError', 'NoResolverError', 'NotUnixFSError', 'BadPathError'])

/**
 * Whether an error of the exporter or a codec is the store failing (a 500 worth
 * logging) rather than the content not being what its CID says (a block that does
 * not decode as its codec: the client's CID names bytes under another codec).
 */
function isStoreFailure (err: Error & { code?: unknown }): boolean {
  return err.name === 'AbortError' || /Failed(Error)?$/.test(err.name) ||
    (typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code))
}

/** The 406 for content that does not decode; never quotes the decoder, whose messages may hold the block's bytes. */
function undecodable (what: string): NotAcceptableError {
  return new NotAcceptableError(`${what} does not decode as the codec its CID names: ` +
    'only its raw bytes can be given (Accept: application/vnd.ipld.raw)')
}

function toEntry (entry: UnixFSEntry, name: string, fileBody: FileBody): GatewayEntry {
  const { cid } = entry
  switch (entry.type) {
    case 'directory':
      return {
        type: 'directory',
        cid,
        name,
        async * list (options) {
          let listed = 0
          for await (const child of entry.entries(options)) {
            if (++listed > MAX_LISTING) throw tooLarge(cid)
            yield { name: child.name, cid: child.cid, size: Number(child.size) }
          }
        }
      }
    case 'object':
      return { type: 'object', cid, name, bytes: entry.node }
    default:
      return {
        type: 'file',
        cid,
        name,
        size: Number(entry.size),
        read: (range, options) => entry.type === 'file' || entry.type === 'raw'
          ? collected(cid, range, fileBody, options)
          : entry.content({ ...range, ...options }),
        body: (range, options) => entry.type === 'file' || entry.type === 'raw'
          ? { write: async (sink) => { await fileBody(cid, range, sink, options) } }
          : { write: async (sink) => { await copyTo(sink, entry.content({ ...range, ...options }), options) } }
      }
  }
}

type FileBody = (cid: CID, range: { offset: number, length: number }, sink: ByteSink,
  options: { signal?: AbortSignal }) => Promise<void>

/**
 * A file range read whole through `fileBody`, for sniffing its type. Not the exporter's content():
 * a file whose block sizes lie made it spin without an answer, and a client leaving meanwhile made
 * it reject a promise nobody holds (`void childQueue.add`), which ended the process.
 */
async function * collected (
  cid: CID, range: { offset: number, length: number }, fileBody: FileBody, options: { signal?: AbortSignal }
): AsyncGenerator<Uint8Array> {
  const chunks: Uint8Array[] = []
  try {
    await fileBody(cid, range, { write: async (chunk) => { chunks.push(chunk.slice()) } }, options)
  } catch (err) {
    if (err instanceof BrokenFileError) throw new NotAcceptableError(`file ${cid.toString()} is broken: ${err.message}`)
    throw err
  }
  yield * chunks
}

/** Identity files are their CID: a few bytes, copied as the exporter gives them. */
async function copyTo (
  sink: ByteSink, chunks: AsyncIterable<Uint8Array>, options: { signal?: AbortSignal }
): Promise<void> {
  for await (const chunk of chunks) await raceSignal(sink.write(chunk), options.signal)
}

/** Creates the gateway reader. */
export function createGateway (components: GatewayComponents): Gateway {
  const { blockstore } = components
  const slots = bufferPool(BLOCK_SLOT_BYTES, 2 * CAR_AHEAD)
  const batches = bufferPool(BATCH_BYTES, 8)
  const readInto = components.readInto ?? (async (cid: CID, _target: Uint8Array, options: { signal?: AbortSignal }) =>
    await toBuffer(blockstore.get(cid, options)))

  async function block (cid: CID, options: { signal?: AbortSignal }): Promise<Uint8Array> {
    if (cid.multihash.code === IDENTITY) return cid.multihash.digest
    return await toBuffer(blockstore.get(cid, options))
  }

  const fileBody: FileBody = async (cid, range, sink, options) => {
    await writeFileRange(cid, range, sink, { read: readInto, slots, batches }, { ...options, ahead: CAR_AHEAD })
  }

  /** The CIDs a block links to; NotAcceptableError when it does not decode as its codec. */
  async function linksOf (cid: CID, bytes: Uint8Array): Promise<CID[]> {
    if (cid.code === raw.code) return []
    const codec = await components.getCodec(cid.code) // outside the try: an unknown codec is not the block's fault
    try {
      return await blockLinks(cid, bytes, async () => codec)
    } catch {
      throw undecodable(`block ${cid.toString()}`)
    }
  }

  return {
    async resolve (root, path, options) {
      // An identity root holds itself, so it is served only when a pin request names it (nothing is stored
      // for it): before, any raw one was, so anyone who may read the gateway made this origin show ~1 KB of
      // their own HTML. Unless raw, it may link to anything, pinned or not. Inside a pinned DAG, paths reach
      // identity blocks as before.
      const served = root.multihash.code === IDENTITY
        ? root.code === raw.code && await components.requests.isReferenced(canonicalCidKey(root))
        : await components.pins.isPinned(root, options)
      if (!served) throw new NotFoundError(`${root.toString()} is not pinned here`)
      // A block read as raw bytes needs no decoding: any codec, even bytes that do not decode as it.
      if (options.raw === true && path.length === 0) {
        return { entry: { type: 'object', cid: root, name: '', bytes: await block(root, options) }, trail: [] }
      }
      try {
        let last: { cid: CID, name: string, roots: CID[] } | undefined
        for await (const step of walkPath([root.toString(), ...path].join('/'), blockstore, options)) last = step
        if (last == null) throw new NotFoundError('empty path')
        // Counted: a listing reads its shards through this, after resolve() has returned.
        let reads = 0
        const counted: Pick<Blockstore, 'get'> = {
          get: (cid, o) => {
            if (++reads > MAX_LISTING) throw tooLarge(last.cid)
            return blockstore.get(cid, o)
          }
        }
        const entry = await exporter(last.cid, counted, options)
        // The name the path gave it (the exporter, asked by CID, would name it by its CID).
        return { entry: toEntry(entry, path.length > 0 ? last.name : '', fileBody), trail: last.roots }
      } catch (err) {
        // A pinned block that is not UnixFS is still served, as its own bytes (raw, CAR or as is).
        if (path.length === 0 && err instanceof Error && err.name === 'NotUnixFSError') {
          return { entry: { type: 'object', cid: root, name: '', bytes: await block(root, options) }, trail: [] }
        }
        const where = ['', 'ipfs', root.toString(), ...path].join('/')
        if (err instanceof Error && MISSING.has(err.name)) {
          throw new NotFoundError(`${where} names nothing: ${err.message}`)
        }
        if (err instanceof Error && !isStoreFailure(err)) {
          throw undecodable(path.length === 0 ? `block ${root.toString()}` : `a block on the way to ${where}`)
        }
        throw err
      }
    },

    block,

    async car (root, trail, target, options) {
      // Checked before anything is sent: a target that does not decode is a 406, not a cut-off CAR.
      await linksOf(target, await block(target, options))
      const blocks = async function * (): AsyncGenerator<{ cid: CID, bytes: Uint8Array }> {
        const seen = new Set<string>()
        // The path's nodes first, so a client can verify the way from the root to the target.
        for (const cid of trail) {
          if (cid.equals(target) || seen.has(blockKey(cid))) continue
          seen.add(blockKey(cid))
          if (cid.multihash.code !== IDENTITY) yield { cid, bytes: await block(cid, options) }
        }
        const children = async ({ cid }: DagNode<undefined>, bytes: Uint8Array): Promise<Array<DagNode<undefined>>> =>
          (await linksOf(cid, bytes)).map(link => ({ cid: link, tag: undefined }))
        yield * dagInOrder({ cid: target, tag: undefined }, { read: readInto, children, slots },
          { ...options, ahead: CAR_AHEAD, seen })
      }
      return { write: async (sink) => { await writeCar([root], blocks(), sink, { ...options, batches }) } }
    }
  }
}
