/**
 * An upload's block sink keeps little per block until the upload settles (a flat key and a
 * size, not the CID: PINERY_MAX_UPLOAD_BLOCKS blocks of one upload are all held), and still
 * protects, releases and discards exactly what it wrote, whatever the CIDs' codec and hash.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import { BlackHoleBlockstore } from 'blockstore-core'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DurableFsBlockstore } from '../../src/node/durable-blockstore.js'
import { createGcGuard } from '../../src/pins/gc-guard.js'
import { createBlockSink } from '../../src/content/upload-sink.js'

v8.setFlagsFromString('--expose-gc')
const collect = vm.runInNewContext('gc') as () => void

async function heapAfterGc (): Promise<number> {
  for (let i = 0; i < 3; i++) { collect(); await new Promise(resolve => setImmediate(resolve)) }
  return process.memoryUsage().heapUsed
}

describe('upload block sink', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'pinery-sink-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('holds at most ~300 bytes of heap per block written until it settles', async () => {
    const N = 20_000
    const guard = createGcGuard()
    const sink = createBlockSink({ budget: Infinity, maxBlocks: N }, {
      blockstore: new BlackHoleBlockstore(), guard, discard: async () => 0
    })
    const before = await heapAfterGc()
    for (let i = 0; i < N; i++) {
      // Each CID made as the CAR reader makes it, and dropped by the caller once stored.
      const bytes = new TextEncoder().encode(`b${i}`)
      const cid = CID.createV1(raw.code, await sha256.digest(bytes))
      await sink.put(CID.decode(cid.bytes.slice()), bytes)
    }
    const perBlock = (await heapAfterGc() - before) / N
    expect(sink.bytes).toBeGreaterThan(0)
    expect(perBlock).toBeLessThan(300)
    sink.release()
  })

  it('discards exactly the blocks it wrote that nothing protects, of any codec and hash', async () => {
    const blockstore = new DurableFsBlockstore(join(dir, 'blocks'))
    await blockstore.open()
    const guard = createGcGuard()
    const discarded: CID[] = []
    const sink = createBlockSink({ budget: Infinity, maxBlocks: 10 }, {
      blockstore,
      guard,
      discard: async (cids) => {
        let n = 0
        for (const cid of cids) {
          if (guard.isProtected(cid)) continue
          discarded.push(cid)
          await blockstore.delete(cid)
          n++
        }
        return n
      }
    })
    const cbor = dagCbor.encode({ hello: 'world' })
    const a = CID.createV1(dagCbor.code, await sha512.digest(cbor))
    const rawBytes = new TextEncoder().encode('raw')
    const b = CID.createV1(raw.code, await sha256.digest(rawBytes))
    await sink.put(a, cbor)
    await sink.put(b, rawBytes)
    await sink.put(b, rawBytes)
    expect(sink.bytes).toBe(cbor.byteLength + rawBytes.byteLength)
    expect(sink.sizeOf(a)).toBe(cbor.byteLength)
    expect(guard.isProtected(a)).toBe(true)
    // Another upload protects b: it stays.
    await guard.protect(b)
    await sink.discard()
    expect(guard.isProtected(a)).toBe(false)
    expect(discarded.map(c => c.multihash.bytes)).toEqual([a.multihash.bytes])
    expect(await blockstore.has(a)).toBe(false)
    expect(await blockstore.has(b)).toBe(true)
    await expect(sink.protect(b)).rejects.toThrow(/settled already/)
    await blockstore.close()
  })
})
