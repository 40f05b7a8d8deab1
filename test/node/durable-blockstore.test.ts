/**
 * The durable blockstore-fs: blocks round-trip (read in one piece), no temp file is ever left
 * behind, concurrent puts of one block and concurrent syncs are fine, a
 * failed put says so and leaves nothing, and a failed sync drops what it covered.
 */
import { closeSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import toBuffer from 'it-to-buffer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DurableFsBlockstore } from '../../src/node/durable-blockstore.js'
import { rawBlock as block } from '../fixtures/content.js'

async function filesUnder (dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter(e => e.isFile()).map(e => e.name)
}

/** Descriptors this process holds open on files under `dir`, with their paths. */
async function descriptorsUnder (dir: string): Promise<Array<{ fd: number, path: string }>> {
  const fds = await readdir('/proc/self/fd')
  const paths = await Promise.all(fds.map(async fd => await readlink(`/proc/self/fd/${fd}`).catch(() => '')))
  return fds.map((fd, i) => ({ fd: Number(fd), path: paths[i] as string })).filter(f => f.path.startsWith(`${dir}/`))
}

/** Files under `dir` this process holds open. */
async function openUnder (dir: string): Promise<string[]> {
  return (await descriptorsUnder(dir)).map(f => f.path)
}

describe('DurableFsBlockstore', () => {
  let dir: string
  let store: DurableFsBlockstore
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-durable-'))
    store = new DurableFsBlockstore(join(dir, 'blocks'))
    await store.open()
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('reads a block in one piece, and a missing block as NotFoundError', async () => {
    // Stock blockstore-fs streams a file in 64 KiB pieces: a 256 KiB block came back as four.
    const bytes = new Uint8Array(256 * 1024).map((_, i) => i % 251)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await store.put(cid, bytes)
    const pieces: Uint8Array[] = []
    for await (const piece of store.get(cid)) pieces.push(piece)
    expect(pieces).toHaveLength(1)
    expect(Uint8Array.from(pieces[0] as Uint8Array)).toEqual(bytes)
    const missing = await block('never stored')
    await expect(toBuffer(store.get(missing.cid))).rejects.toMatchObject({ name: 'NotFoundError' })
  })

  it('stores bytes and chunk streams, concurrent puts of one block included, leaving only .data files', async () => {
    const a = await block('a')
    const b = await block('bb')
    await Promise.all([store.put(a.cid, a.bytes), store.put(a.cid, a.bytes), store.put(a.cid, a.bytes)])
    await store.put(b.cid, (async function * () { yield b.bytes.subarray(0, 1); yield b.bytes.subarray(1) })())
    await Promise.all([store.sync(), store.sync(), store.sync()])
    expect(await toBuffer(store.get(a.cid))).toEqual(a.bytes)
    expect(await toBuffer(store.get(b.cid))).toEqual(b.bytes)
    const files = await filesUnder(join(dir, 'blocks'))
    expect(files).toHaveLength(2)
    expect(files.every(f => f.endsWith('.data'))).toBe(true)
  })

  it(
    'stores an empty block and empty chunks; has() with an aborted signal rejects (blockstore-fs said false)',
    async () => {
      const empty = await block('')
      const c = await block('chunks')
      await store.put(empty.cid, empty.bytes)
      await store.put(c.cid, (async function * () {
        yield new Uint8Array(0)
        yield c.bytes
        yield new Uint8Array(0)
      })())
      await store.sync()
      expect(await store.has(empty.cid)).toBe(true)
      expect(await toBuffer(store.get(empty.cid))).toEqual(new Uint8Array(0))
      expect(await toBuffer(store.get(c.cid))).toEqual(c.bytes)
      await expect(store.has(c.cid, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' })
    })

  it('fails a put it cannot write with PutFailedError and leaves no temp file', async () => {
    const a = await block('a')
    // A file where the shard directory should go (permissions would not stop root).
    await rm(join(dir, 'blocks'), { recursive: true })
    await writeFile(join(dir, 'blocks'), 'not a directory')
    await expect(store.put(a.cid, a.bytes)).rejects.toMatchObject({ name: 'PutFailedError' })
    await rm(join(dir, 'blocks'))
    await mkdir(join(dir, 'blocks'))
    await store.put(a.cid, a.bytes)
    expect(await filesUnder(join(dir, 'blocks'))).toHaveLength(1)
    expect(await store.has(a.cid)).toBe(true)
  })

  it('makes a shard directory again when it was removed behind its back', async () => {
    const a = await block('a')
    await store.put(a.cid, a.bytes)
    await rm(join(dir, 'blocks'), { recursive: true })
    await expect(store.put(a.cid, a.bytes)).rejects.toMatchObject({ name: 'PutFailedError' })
    await store.put(a.cid, a.bytes)
    await store.sync()
    expect(await toBuffer(store.get(a.cid))).toEqual(a.bytes)
  })

  it('fsyncs a new block through the descriptor its write opened: 64 kept at most, none after sync()', async () => {
    // Opening each file again to fsync it cost two thread-pool round trips per block (bench:many).
    const few = await Promise.all(['x', 'y', 'x'].map(block))
    for (const b of few) await store.put(b.cid, b.bytes)
    // The same block put twice keeps the newer file's descriptor only.
    expect((await openUnder(dir)).map(path => path.endsWith('.data'))).toEqual([true, true])
    await store.sync()
    expect(await openUnder(dir)).toEqual([])
    const many = await Promise.all(Array.from({ length: 70 }, async (_, i) => await block(`kept ${i}`)))
    for (const b of many) await store.put(b.cid, b.bytes)
    expect(await openUnder(dir)).toHaveLength(64)
    await store.sync()
    expect(await openUnder(dir)).toEqual([])
    for (const b of [...few, ...many]) expect(await toBuffer(store.get(b.cid))).toEqual(b.bytes)
  })

  it('syncs on its own once 256 new blocks wait: a large DAG is made durable as it arrives', async () => {
    // The first 64 puts keep their descriptors open until a sync: once they are closed, a sync ran.
    const blocks = await Promise.all(Array.from({ length: 256 }, async (_, i) => await block(`early ${i}`)))
    for (const b of blocks) await store.put(b.cid, b.bytes)
    for (let i = 0; i < 200 && (await openUnder(dir)).length > 0; i++) {
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    expect(await openUnder(dir)).toEqual([])
    await store.sync()
    for (const b of blocks) expect(await toBuffer(store.get(b.cid))).toEqual(b.bytes)
  })
  it('drops the blocks a failed sync covered, and tells whoever relied on blocks since', async () => {
    // A sync that fails is not retried over the same files: Linux reports a failed writeback once, and a
    // second fsync would succeed over bytes the disk never took (src/node/untrusted-files.ts).
    const a = await block('lost a')
    const b = await block('lost b')
    const since = store.syncFailures
    await store.put(a.cid, a.bytes)
    await store.put(b.cid, b.bytes)
    // Their fsyncs fail: the descriptors kept for them closed behind the store's back (EBADF, as a disk's EIO).
    for (const { fd } of await descriptorsUnder(dir)) closeSync(fd)
    await expect(store.sync()).rejects.toMatchObject({ code: 'EBADF' })
    expect([await store.has(a.cid), await store.has(b.cid)]).toEqual([false, false])
    // Nothing is left to sync, yet a caller that relied on blocks since before the failure is told.
    await expect(store.sync(since)).rejects.toMatchObject({ name: 'BlocksLostError' })
    await store.sync(store.syncFailures)
    for (let i = 0; i < 100 && (await filesUnder(dir)).length > 0; i++) {
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    expect(await filesUnder(dir)).toEqual([])
    // Stored again, a block is a new file with a sync of its own.
    const after = store.syncFailures
    await store.put(a.cid, a.bytes)
    await store.sync(after)
    expect(await toBuffer(store.get(a.cid))).toEqual(a.bytes)
  })

  it('keeps a block made durable before when a failed sync covered a second put of it', async () => {
    // Two fetches of DAGs that share a block each store it (both asked has() before either put): the first
    // pin's sync made it durable and the pin was answered pinned; the second put renames a new file over it.
    const a = await block('shared by two pins')
    await store.put(a.cid, a.bytes)
    await store.sync()
    await store.put(a.cid, a.bytes)
    // The second put's fsync, if it left a file to sync, fails (its descriptor closed behind the store's back:
    // EBADF, as a disk's EIO). The store now keeps the stored file and leaves nothing to sync.
    for (const { fd } of await descriptorsUnder(dir)) closeSync(fd)
    await store.sync().catch((err: NodeJS.ErrnoException) => { expect(err.code).toBe('EBADF') })
    for (let i = 0; i < 50; i++) await new Promise(resolve => setTimeout(resolve, 10))
    // Old code: the path the failed sync covered is removed, and with it the first pin's durable block.
    expect(await store.has(a.cid)).toBe(true)
    expect(await toBuffer(store.get(a.cid))).toEqual(a.bytes)
  })
})
