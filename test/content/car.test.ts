/**
 * The CAR reader at its seam: a CAR written by @ipld/car's own writer comes
 * in whole, as CARv1 or wrapped in a CARv2, and a corrupt, truncated, lying
 * or unsupported one is refused with InvalidRequestError naming the problem,
 * without reading a huge section into memory. The source's own failure is passed on as it is.
 * The writer: byte for byte what @ipld/car's CarWriter writes, in batches, as fast as its sink
 * takes them and no faster, ending its source when the sink fails or the signal aborts.
 */
import { randomBytes } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { blocksOf, carOf, fileDag } from '../fixtures/content.js'
import { failure } from '../fixtures/errors.js'
import { getCodec } from '../fixtures/pin-core.js'
import { BATCH_BYTES as CAR_BATCH_BYTES } from '../../src/content/batched-writer.js'
import { MAX_BLOCK_BYTES, readCar, writeCar } from '../../src/content/car.js'
import type { ByteSink } from '../../src/content/index.js'

/** A sink that remembers what was stored. */
function memorySink (): { put(cid: CID, bytes: Uint8Array): Promise<CID>, stored: Map<string, Uint8Array> } {
  const stored = new Map<string, Uint8Array>()
  return { stored, async put (cid, bytes) { stored.set(cid.toString(), bytes); return cid } }
}

async function * chunks (bytes: Uint8Array, size = 1000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += size) yield bytes.subarray(i, i + size)
}

async function rawBlock (bytes: Uint8Array): Promise<{ cid: CID, bytes: Uint8Array }> {
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

const CARV2_PRAGMA = new Uint8Array([0x0a, 0xa1, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x02])

/** Wraps a CARv1 as a CARv2 (no index), with `padding` bytes between the header and the data. */
function carV2 (v1: Uint8Array, padding = 0): Uint8Array {
  const header = new Uint8Array(40)
  const view = new DataView(header.buffer)
  view.setBigUint64(16, BigInt(CARV2_PRAGMA.byteLength + 40 + padding), true) // data offset
  view.setBigUint64(24, BigInt(v1.byteLength), true) // data size
  view.setBigUint64(32, 0n, true) // no index
  return Buffer.concat([CARV2_PRAGMA, header, new Uint8Array(padding), v1])
}

const read = async (car: Uint8Array | AsyncIterable<Uint8Array>, sink = memorySink()): Promise<CID[]> =>
  await readCar(car instanceof Uint8Array ? chunks(car) : car, sink, { getCodec })

const invalid = (details: RegExp): unknown => failure('InvalidRequestError', details)

describe('readCar', () => {
  it('reads a CAR of a file DAG: its roots, and every block stored verified', async () => {
    const dag = await fileDag(randomBytes(600 * 1024))
    const blocks = await blocksOf(dag)
    const sink = memorySink()
    const roots = await read(await carOf([dag.root], blocks), sink)
    expect(roots.map(String)).toEqual([dag.root.toString()])
    expect([...sink.stored.keys()].sort()).toEqual(blocks.map(b => b.cid.toString()).sort())
  })

  it('does not store identity blocks, which carry themselves', async () => {
    const id = CID.createV1(raw.code, identity.digest(new TextEncoder().encode('hi')))
    const other = await rawBlock(new TextEncoder().encode('other'))
    const sink = memorySink()
    await read(await carOf([id, other.cid], [{ cid: id, bytes: new TextEncoder().encode('hi') }, other]), sink)
    expect([...sink.stored.keys()]).toEqual([other.cid.toString()])
  })

  it('reads a CARv2 wrapping the same CAR, padding included', async () => {
    const dag = await fileDag(randomBytes(300 * 1024))
    const blocks = await blocksOf(dag)
    const sink = memorySink()
    const roots = await read(carV2(await carOf([dag.root], blocks), 100), sink)
    expect(roots.map(String)).toEqual([dag.root.toString()])
    expect(sink.stored.size).toBe(blocks.length)
  })

  it('refuses a CARv2 that asks to skip more than a section before its data', async () => {
    const block = await rawBlock(new TextEncoder().encode('far away'))
    const v2 = carV2(await carOf([block.cid], [block]))
    // Claim the data starts 1 GiB further on: the reader would have to skip (hold) all of it.
    new DataView(v2.buffer, v2.byteOffset).setBigUint64(CARV2_PRAGMA.byteLength + 16, BigInt(2 ** 30), true)
    await expect(read(v2)).rejects.toEqual(invalid(/asks to skip \d+ bytes/))
  })

  it('refuses bytes that are not a CAR', async () => {
    // Not random bytes: a random first varint can name a section over the size limit (another refusal).
    await expect(read(Buffer.from('plain text, not a CAR at all. '.repeat(8))))
      .rejects.toEqual(invalid(/not a valid CAR/))
  })

  it('refuses a CAR cut off in the middle of a block', async () => {
    const block = await rawBlock(randomBytes(5000))
    const car = await carOf([block.cid], [block])
    await expect(read(car.subarray(0, car.byteLength - 100))).rejects.toEqual(invalid(/not a valid CAR/))
  })

  it('refuses a block whose bytes do not hash to its CID', async () => {
    const block = await rawBlock(new TextEncoder().encode('honest'))
    const car = await carOf([block.cid], [{ cid: block.cid, bytes: new TextEncoder().encode('liar!!') }])
    await expect(read(car)).rejects.toEqual(invalid(/do not hash to its CID/))
  })

  it('refuses a block that does not decode with its codec', async () => {
    const bytes = new Uint8Array([0xff, 0xff, 0xff])
    const cid = CID.createV1(dagCbor.code, await sha256.digest(bytes))
    await expect(read(await carOf([cid], [{ cid, bytes }]))).rejects.toEqual(invalid(/does not decode as dag-cbor/))
  })

  it('refuses a root or block with a codec or hash it cannot verify', async () => {
    const bytes = new TextEncoder().encode('git object')
    const git = CID.createV1(0x78, await sha256.digest(bytes))
    await expect(read(await carOf([git], [{ cid: git, bytes }]))).rejects.toEqual(invalid(/root .* codec 0x78/))
    const ok = await rawBlock(new TextEncoder().encode('fine'))
    await expect(read(await carOf([ok.cid], [ok, { cid: git, bytes }]))).rejects.toEqual(invalid(/block .* codec 0x78/))
    // blake2b-256 (0xb220), a hash multiformats knows but Pinery does not verify.
    const digest = new Uint8Array(32)
    const multihash = new Uint8Array([0xa0, 0xe4, 0x02, 32, ...digest])
    const blake = CID.createV1(raw.code, { code: 0xb220, size: 32, digest, bytes: multihash })
    await expect(read(await carOf([blake], []))).rejects.toEqual(invalid(/hash 0xb220/))
  })

  it('refuses a CAR with no root', async () => {
    const block = await rawBlock(new TextEncoder().encode('orphan'))
    await expect(read(await carOf([], [block]))).rejects.toEqual(invalid(/names no root/))
  })

  it('refuses a section longer than a block may be before reading it', async () => {
    const block = await rawBlock(new TextEncoder().encode('small'))
    const header = (await carOf([block.cid], [])) // header only
    const length = MAX_BLOCK_BYTES * 2
    const prefix = varint.encodeTo(length, new Uint8Array(varint.encodingLength(length)))
    let sent = 0
    // Only the claim arrives, and the body would be endless: a reader that buffered it would never finish.
    const endless = (async function * () {
      yield header
      yield prefix
      yield block.cid.bytes
      for (;;) {
        sent += 65_536
        yield new Uint8Array(65_536)
        if (sent > 64 * MAX_BLOCK_BYTES) throw new Error('kept reading')
      }
    })()
    await expect(read(endless)).rejects.toEqual(invalid(/larger than the \d+ byte block limit/))
    expect(sent).toBeLessThanOrEqual(length)
  })

  it('passes on the failure of the source itself, not as a bad CAR', async () => {
    const block = await rawBlock(randomBytes(5000))
    const car = await carOf([block.cid], [block])
    const gone = new Error('client went away')
    const failing = (async function * () { yield car.subarray(0, 100); throw gone })()
    await expect(read(failing)).rejects.toBe(gone)
  })

  it('stops at an aborted signal', async () => {
    const blocks = await Promise.all(['p', 'q'].map(async t => await rawBlock(new TextEncoder().encode(t))))
    const car = await carOf([blocks[0]!.cid], blocks)
    const reading = readCar(chunks(car), memorySink(), { getCodec, signal: AbortSignal.abort() })
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' })
  })
})

/** A sink that keeps what it is given; writes resolve at once unless `held`, then only when released. */
function collector (
  held = false
): ByteSink & { chunks: Uint8Array[], bytes(): Buffer, release(): void, waiting: number } {
  const chunks: Uint8Array[] = []
  let waiters: Array<() => void> = []
  return {
    chunks,
    // Copied: the writer reuses a batch once its write is done.
    async write (chunk) {
      chunks.push(Buffer.from(chunk))
      if (held) await new Promise<void>(resolve => { waiters.push(resolve) })
    },
    bytes: () => Buffer.concat(chunks),
    release () { held = false; for (const w of waiters) w(); waiters = [] },
    get waiting () { return waiters.length }
  }
}

async function * each<T> (items: T[], onEach?: (i: number) => void): AsyncGenerator<T> {
  for (let i = 0; i < items.length; i++) { onEach?.(i); yield items[i] as T }
}

describe('writeCar', () => {
  it('writes byte for byte what @ipld/car\'s CarWriter writes: small blocks, batch-sized ones, one larger than a batch',
    async () => {
      const small = await Promise.all(Array.from({ length: 400 },
        async (_, i) => await rawBlock(new TextEncoder().encode(`block ${i}`))))
      const big = await Promise.all([CAR_BATCH_BYTES - 40, 256 * 1024, CAR_BATCH_BYTES + 5, 0]
        .map(async n => await rawBlock(randomBytes(n))))
      const blocks = [...small.slice(0, 200), ...big, ...small.slice(200)]
      const sink = collector()
      await writeCar([blocks[0]!.cid, big[1]!.cid], each(blocks), sink)
      expect(sink.bytes().equals(await carOf([blocks[0]!.cid, big[1]!.cid], blocks))).toBe(true)
      // Batched: not a write per block.
      expect(sink.chunks.length).toBeLessThan(12)
    })

  it('round-trips through readCar', async () => {
    const dag = await fileDag(randomBytes(600 * 1024))
    const sink = collector()
    await writeCar([dag.root], each(await blocksOf(dag)), sink)
    const stored = memorySink()
    expect((await read(sink.bytes(), stored)).map(String)).toEqual([dag.root.toString()])
    expect(stored.stored.size).toBe((await blocksOf(dag)).length)
  })

  it('reads no further ahead than four batches in the sink allow, and goes on when they are taken', async () => {
    const blocks = await Promise.all(Array.from({ length: 64 }, async () => await rawBlock(randomBytes(256 * 1024))))
    let produced = 0
    const sink = collector(true)
    const writing = writeCar([blocks[0]!.cid], each(blocks, i => { produced = i + 1 }), sink)
    await new Promise(resolve => setTimeout(resolve, 200))
    // Four full batches of (almost) four blocks each waiting in the sink, and the one being filled.
    expect(sink.waiting).toBe(4)
    expect(produced).toBeLessThanOrEqual(5 * CAR_BATCH_BYTES / (256 * 1024) + 1)
    sink.release()
    await writing
    expect(produced).toBe(blocks.length)
    const stored = memorySink()
    await read(sink.bytes(), stored)
    expect([...stored.stored.keys()]).toEqual(blocks.map(b => b.cid.toString()))
  })

  it('passes on the failure of its source after what came before', async () => {
    const ok = await rawBlock(new TextEncoder().encode('ok'))
    const source = (async function * () { yield ok; throw new Error('disk on fire') })()
    const sink = collector()
    await expect(writeCar([ok.cid], source, sink)).rejects.toThrow('disk on fire')
    expect(sink.bytes().includes(Buffer.from('ok'))).toBe(true)
  })

  it('ends its source when the sink fails, and when the signal aborts while the sink hangs', async () => {
    const blocks = await Promise.all(Array.from({ length: 40 }, async () => await rawBlock(randomBytes(256 * 1024))))
    let ended = 0
    const source = (): AsyncGenerator<{ cid: CID, bytes: Uint8Array }> => (async function * () {
      try { yield * blocks } finally { ended++ }
    })()
    const gone = new Error('client went away')
    await expect(writeCar([blocks[0]!.cid], source(), { write: async () => { throw gone } })).rejects.toBe(gone)
    expect(ended).toBe(1)
    const controller = new AbortController()
    const hung = collector(true)
    const writing = writeCar([blocks[0]!.cid], source(), hung, { signal: controller.signal })
    await new Promise(resolve => setTimeout(resolve, 100))
    controller.abort()
    await expect(writing).rejects.toMatchObject({ name: 'AbortError' })
    expect(ended).toBe(2)
  })
})
