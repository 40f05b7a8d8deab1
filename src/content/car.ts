/**
 * CAR files in and out. In: a streamed CARv1 or CARv2 read with @ipld/car's
 * decoder, each block checked before it is stored (supported codec and
 * hash, bytes hashing to the CID, content decoding with its codec), with a
 * cap on section sizes so a lying length cannot make the reader buffer the
 * body. Out: a CARv1 written block by block as the caller reads it.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { asyncIterableReader, createDecoder, type BytesReader } from '@ipld/car/decoder'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { equals } from 'uint8arrays/equals'
import { InvalidRequestError } from '../errors.js'
import { SUPPORTED_CODECS, SUPPORTED_HASHES } from '../pins/cid.js'
import type { BlockSink } from './upload-sink.js'
import type { DagWalkComponents } from '../pins/dag-walk.js'
import type { MultihashHasher } from 'multiformats/hashes/interface'

/** Largest block accepted: bigger ones could not travel over bitswap (kubo's limit too). */
export const MAX_BLOCK_BYTES = 2 * 1024 * 1024
// A section is a CID and a block; a header holds the roots. Nothing larger is ever read into memory.
const MAX_SECTION_BYTES = MAX_BLOCK_BYTES + 1024

const IDENTITY = 0x00
const HASHERS = new Map<number, MultihashHasher>([[sha256.code, sha256], [sha512.code, sha512]])

/** An error of the body stream itself (client gone, idle timeout), as opposed to its content. */
class SourceFailure extends Error {
  static override name = 'SourceFailure'
  override name = SourceFailure.name
}

/** Refuses any read longer than a section could honestly be. */
function capped (reader: BytesReader): BytesReader {
  return {
    async upTo (length) { return await reader.upTo(length) },
    async exactly (length, seek) {
      if (length > MAX_SECTION_BYTES) throw new InvalidRequestError(`a CAR section of ${length} bytes is larger than the ${MAX_BLOCK_BYTES} byte block limit`)
      return await reader.exactly(length, seek)
    },
    seek (length) {
      // CARv2 skips its padding with a seek; a huge one would make the reader hold the whole body.
      if (length < 0 || length > MAX_SECTION_BYTES) throw new InvalidRequestError(`the CAR asks to skip ${length} bytes; at most ${MAX_SECTION_BYTES} are allowed`)
      reader.seek(length)
    },
    get pos () { return reader.pos }
  }
}

function carError (err: unknown): unknown {
  if (err instanceof SourceFailure) return err.cause
  if (err instanceof Error && err.name === InvalidRequestError.name) return err
  return new InvalidRequestError(`the body is not a valid CAR: ${(err as Error).message}`)
}

function checkCid (cid: CID, what: string): void {
  if (!SUPPORTED_CODECS.has(cid.code)) throw new InvalidRequestError(`${what} ${cid.toString()} uses codec 0x${cid.code.toString(16)}, which is not supported (${[...SUPPORTED_CODECS.values()].join(', ')})`)
  if (!SUPPORTED_HASHES.has(cid.multihash.code)) throw new InvalidRequestError(`${what} ${cid.toString()} uses hash 0x${cid.multihash.code.toString(16)}, which is not supported (${[...SUPPORTED_HASHES.values()].join(', ')})`)
}

async function verify (cid: CID, bytes: Uint8Array, getCodec: DagWalkComponents['getCodec']): Promise<void> {
  checkCid(cid, 'block')
  const hasher = HASHERS.get(cid.multihash.code)
  const digest = hasher == null ? bytes : (await hasher.digest(bytes)).digest
  if (!equals(digest, cid.multihash.digest)) throw new InvalidRequestError(`block ${cid.toString()}: its bytes do not hash to its CID`)
  if (cid.code === raw.code) return
  try {
    (await getCodec(cid.code)).decode(bytes)
  } catch (err) {
    throw new InvalidRequestError(`block ${cid.toString()} does not decode as ${SUPPORTED_CODECS.get(cid.code) ?? 'its codec'}: ${(err as Error).message}`)
  }
}

/**
 * Reads a CAR from `source`, verifying each block and storing it through
 * `sink` (identity blocks carry themselves and are not stored); resolves
 * with the header's roots. A malformed or dishonest CAR throws
 * InvalidRequestError; the caller discards what was stored.
 */
export async function readCar (source: AsyncIterable<Uint8Array>, sink: Pick<BlockSink, 'put'>, options: { signal?: AbortSignal, getCodec: DagWalkComponents['getCodec'] }): Promise<CID[]> {
  const body = (async function * () {
    try { yield * source } catch (err) { throw new SourceFailure('the body could not be read', { cause: err }) }
  })()
  const decoder = createDecoder(capped(asyncIterableReader(body)))
  let roots: CID[]
  try {
    roots = (await decoder.header()).roots
  } catch (err) {
    throw carError(err)
  }
  if (roots.length === 0) throw new InvalidRequestError('the CAR names no root, so there is nothing to pin')
  for (const root of roots) checkCid(root, 'root')
  const blocks = decoder.blocks()
  for (;;) {
    let next: IteratorResult<{ cid: CID, bytes: Uint8Array }>
    try {
      next = await blocks.next()
    } catch (err) {
      throw carError(err)
    }
    if (next.done === true) break
    options.signal?.throwIfAborted()
    // The decoder's CID is a view into its read buffer: a copy lets that buffer go.
    const cid = CID.decode(next.value.cid.bytes.slice())
    const { bytes } = next.value
    await verify(cid, bytes, options.getCodec)
    if (cid.multihash.code !== IDENTITY) await sink.put(cid, bytes, options)
  }
  return roots
}

/** Encodes a CARv1: the header naming `roots`, then each block as it comes. */
export async function * writeCar (roots: CID[], blocks: AsyncIterable<{ cid: CID, bytes: Uint8Array }>): AsyncGenerator<Uint8Array> {
  const header = dagCbor.encode({ version: 1, roots })
  yield concat(lengthPrefix(header.byteLength), header)
  for await (const { cid, bytes } of blocks) {
    yield concat(lengthPrefix(cid.bytes.byteLength + bytes.byteLength), cid.bytes)
    if (bytes.byteLength > 0) yield bytes
  }
}

function lengthPrefix (n: number): Uint8Array {
  return varint.encodeTo(n, new Uint8Array(varint.encodingLength(n)))
}

function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength)
  out.set(a, 0)
  out.set(b, a.byteLength)
  return out
}
