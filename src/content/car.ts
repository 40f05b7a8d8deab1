/**
 * CAR files in and out. In: a streamed CARv1 or CARv2 read with @ipld/car's
 * decoder, each block checked before it is stored (supported codec and
 * hash, bytes hashing to the CID, content decoding with its codec), with a
 * cap on section sizes so a lying length cannot make the reader buffer the
 * body. Out: a CARv1 in large batched writes, as fast as its receiver takes them.
 */
import { asyncIterableReader, createDecoder, type BytesReader } from '@ipld/car/decoder'
import { createWriter, headerLength } from '@ipld/car/buffer-writer'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { equals } from 'uint8arrays/equals'
import { InvalidRequestError, PayloadTooLargeError } from '../errors.js'
import { IDENTITY, SUPPORTED_CODECS, unsupported } from '../pins/cid.js'
import { batchedWriter, type BufferPool } from './batched-writer.js'
import type { ByteSink } from './index.js'
import type { BlockSink } from './upload-sink.js'
import type { DagWalkComponents } from '../pins/dag-walk.js'
import type { MultihashHasher } from 'multiformats/hashes/interface'

/** Largest block accepted: bigger ones could not travel over bitswap (kubo's limit too). */
export const MAX_BLOCK_BYTES = 2 * 1024 * 1024
// A section is a CID and a block; a header holds the roots. Nothing larger is ever read into memory.
const MAX_SECTION_BYTES = MAX_BLOCK_BYTES + 1024

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
      if (length > MAX_SECTION_BYTES) {
        throw new InvalidRequestError(
          `a CAR section of ${length} bytes is larger than the ${MAX_BLOCK_BYTES} byte block limit`)
      }
      return await reader.exactly(length, seek)
    },
    seek (length) {
      // CARv2 skips its padding with a seek; a huge one would make the reader hold the whole body.
      if (length < 0 || length > MAX_SECTION_BYTES) {
        throw new InvalidRequestError(`the CAR asks to skip ${length} bytes; at most ${MAX_SECTION_BYTES} are allowed`)
      }
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
  const why = unsupported(cid)
  if (why != null) throw new InvalidRequestError(`${what} ${cid.toString()} ${why}`)
}

async function verify (cid: CID, bytes: Uint8Array, getCodec: DagWalkComponents['getCodec']): Promise<void> {
  checkCid(cid, 'block')
  const hasher = HASHERS.get(cid.multihash.code)
  const digest = hasher == null ? bytes : (await hasher.digest(bytes)).digest
  if (!equals(digest, cid.multihash.digest)) {
    throw new InvalidRequestError(`block ${cid.toString()}: its bytes do not hash to its CID`)
  }
  if (cid.code === raw.code) return
  try {
    (await getCodec(cid.code)).decode(bytes)
  } catch (err) {
    const codec = SUPPORTED_CODECS.get(cid.code) ?? 'its codec'
    throw new InvalidRequestError(`block ${cid.toString()} does not decode as ${codec}: ${(err as Error).message}`)
  }
}

/**
 * Roots one CAR may name. Each becomes a request of its own, made by one HTTP request (one for the rate
 * limit) and listed in one answer: a 2 MB header of 150,000 identity-CID roots made as many requests in
 * 109 s and took the service from 296 to 994 MB RSS. Multi-root CARs from real tools name a few.
 */
export const MAX_CAR_ROOTS = 1_000

/**
 * Reads a CAR from `source`, verifying each block and storing it through
 * `sink` (identity blocks carry themselves and are not stored); resolves
 * with the header's roots. A malformed or dishonest CAR throws
 * InvalidRequestError; the caller discards what was stored.
 */
export async function readCar (
  source: AsyncIterable<Uint8Array>,
  sink: Pick<BlockSink, 'put'>,
  options: { signal?: AbortSignal, getCodec: DagWalkComponents['getCodec'] }
): Promise<CID[]> {
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
  if (roots.length > MAX_CAR_ROOTS) {
    throw new PayloadTooLargeError(`the CAR names ${roots.length} roots, more than the ${MAX_CAR_ROOTS} one upload ` +
      'may pin (each is a request of its own); split it into several')
  }
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

/** A CARv1 header naming `roots`, encoded by @ipld/car. */
function carHeader (roots: CID[]): Uint8Array {
  return createWriter(new ArrayBuffer(headerLength({ roots })), { roots }).close()
}

/**
 * Writes a CARv1 to `sink`: the header naming `roots`, then each block as a
 * section, in the order given, through a batched writer (batched-writer.ts:
 * large writes, bounded memory, a slow reader slows the source); `blocks`
 * may reuse a block's bytes once the next block is asked for. Ends the
 * source when the sink fails or `signal` aborts.
 *
 * Sections (a varint, the CID, the bytes) are written here straight into
 * the batch; the header is @ipld/car's. CarWriter yields each block as three
 * small chunks through a promise hand-off and keeps views of the bytes, so
 * batching them means copying anyway, and its caller could not reuse a
 * block's buffer until the socket had taken it. Encoding alone, 5 runs,
 * medians, sink taking each chunk at once (load average ~10): 50 000 × 1 KiB
 * blocks, CarWriter 57 ms, this 29 ms; 1024 × 256 KiB, CarWriter 3 ms (no
 * copy), this 12 ms (the copy into batches: 0.05 CPU-s/GiB). The whole CAR
 * export was 4.7–8.2 CPU-s/GiB with CarWriter and is 0.6–1.0 with this,
 * mostly from reusing buffers (see gateway.ts).
 */
export async function writeCar (
  roots: CID[],
  blocks: AsyncIterable<{ cid: CID, bytes: Uint8Array }>,
  sink: ByteSink,
  options: { signal?: AbortSignal, batches?: BufferPool } = {}
): Promise<void> {
  const out = batchedWriter(sink, options)
  await out.append(carHeader(roots))
  const source = blocks[Symbol.asyncIterator]()
  let sourceFailed = false
  try {
    for (;;) {
      const next = await source.next().catch(async (err: unknown) => {
        sourceFailed = true
        await out.flush() // what came before the failure goes out, as it would have unbatched
        throw err
      })
      if (next.done === true) break
      options.signal?.throwIfAborted()
      const { cid, bytes } = next.value
      const length = cid.bytes.byteLength + bytes.byteLength
      const total = varint.encodingLength(length) + length
      const room = await out.reserve(total)
      const { target, at } = room ?? { target: new Uint8Array(total), at: 0 }
      varint.encodeTo(length, target, at)
      target.set(cid.bytes, at + total - length)
      target.set(bytes, at + total - bytes.byteLength)
      if (room == null) await out.send(target)
    }
  } catch (err) {
    if (!sourceFailed) await source.return?.(undefined)
    throw err
  }
  await out.end()
}
