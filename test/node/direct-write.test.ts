/**
 * Large blocks go to disk around the page cache (src/node/direct-write.ts): a block of 64 KiB–1 MiB
 * whose size is a multiple of 4096 leaves none of its file in the page cache (util-linux's fincore
 * says how much is), whatever the addresses of the pieces it arrived in; other blocks take the
 * buffered path; more puts at once than there are slots wait for one, and every block reads back;
 * the page-aligned slots are made as the writes in flight need them.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import toBuffer from 'it-to-buffer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DurableFsBlockstore } from '../../src/node/durable-blockstore.js'

const KiB = 1024

async function rawBlock (size: number): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new Uint8Array(randomBytes(size))
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

/** The block as pieces at odd addresses, as received blocks are (views of Noise frames). */
function oddPieces (bytes: Uint8Array): Uint8Array[] {
  const cuts = [0, 1_001, 70_003, bytes.byteLength].filter(c => c <= bytes.byteLength)
  return cuts.slice(1).map((end, i) => {
    const piece = Buffer.alloc(end - (cuts[i] as number) + 3)
    piece.set(bytes.subarray(cuts[i], end), 3)
    return piece.subarray(3)
  })
}

/** Bytes of the file held in the page cache. */
async function cached (path: string): Promise<number> {
  const { stdout } = await promisify(execFile)('fincore', ['--bytes', '--noheadings', '--output', 'RES', path])
  return Number(stdout.trim())
}

describe('DurableFsBlockstore, large blocks around the page cache', () => {
  let dir: string
  let store: DurableFsBlockstore
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-direct-'))
    store = new DurableFsBlockstore(join(dir, 'blocks'))
    await store.open()
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  /** The paths of the stored block files. */
  async function blockFiles (): Promise<string[]> {
    const entries = await readdir(join(dir, 'blocks'), { recursive: true, withFileTypes: true })
    return entries.filter(e => e.isFile()).map(e => join(e.parentPath, e.name))
  }

  it('leaves none of a 256 KiB block given as unaligned pieces in the page cache, and reads it back', async () => {
    const block = await rawBlock(256 * KiB)
    await store.put(block.cid, oddPieces(block.bytes))
    await store.sync()
    const [path] = await blockFiles()
    expect(await cached(path as string)).toBe(0)
    expect(await toBuffer(store.get(block.cid))).toEqual(block.bytes)
  })

  it('writes blocks of other sizes through the page cache, each intact', async () => {
    const blocks = await Promise.all([4 * KiB, 256 * KiB + 100, 2048 * KiB].map(rawBlock))
    for (const b of blocks) await store.put(b.cid, oddPieces(b.bytes))
    await store.sync()
    for (const path of await blockFiles()) expect(await cached(path)).toBeGreaterThan(0)
    for (const b of blocks) expect(await toBuffer(store.get(b.cid))).toEqual(b.bytes)
  })

  it('takes 48 puts at once through its 32 slots, every block intact and out of the page cache', async () => {
    const blocks = await Promise.all(Array.from({ length: 48 }, async (_, i) => await rawBlock((64 + 4 * i) * KiB)))
    await Promise.all(blocks.map(async b => await store.put(b.cid, asPut(b.bytes))))
    await store.sync()
    const paths = await blockFiles()
    expect(paths).toHaveLength(48)
    for (const path of paths) expect(await cached(path)).toBe(0)
    for (const b of blocks) expect(await toBuffer(store.get(b.cid))).toEqual(b.bytes)
  })

  it('holds page-aligned memory only for the writes in flight (V8 counts all of it as external memory)', async () => {
    const blocks = await Promise.all(Array.from({ length: 12 }, async () => await rawBlock(256 * KiB)))
    const external = (): number => process.memoryUsage().external
    const before = external()
    for (const b of blocks.slice(0, 4)) await store.put(b.cid, b.bytes)
    // One at a time: one slot of 256 KiB (the slots made up front were 32 MiB).
    expect(external() - before).toBeLessThan(1024 * KiB)
    await Promise.all(blocks.slice(4).map(async b => await store.put(b.cid, b.bytes)))
    expect(external() - before).toBeLessThan(3 * 1024 * KiB)
    await store.sync()
    for (const path of await blockFiles()) expect(await cached(path)).toBe(0)
    for (const b of blocks) expect(await toBuffer(store.get(b.cid))).toEqual(b.bytes)
  })
})

/** Alternately one buffer or pieces, so both shapes of a put go the direct way. */
function asPut (bytes: Uint8Array): Uint8Array | Uint8Array[] {
  return bytes.byteLength % (8 * KiB) === 0 ? bytes : oddPieces(bytes)
}
