/**
 * The gateway's CAR export at its seam, over a real blockstore on disk: the
 * same bytes, in the same depth-first order, as a plain one-block-at-a-time
 * walk writes with @ipld/car's CarWriter (raw and dag-pb leaves, deep trees,
 * dag-cbor with repeated and identity links, blocks larger than a read
 * slot); reading ahead within its bounds when the receiver is slow; stopping
 * when the request is aborted; a missing block failing after what came
 * before it.
 */
import { randomBytes } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import toBuffer from 'it-to-buffer'
import { createUnsafe } from 'multiformats/block'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { carOf } from '../fixtures/content.js'
import { getCodec } from '../fixtures/pin-core.js'
import { collector, gatewayOver, noReads, storeFile, tempBlockstore, type FileShape } from '../fixtures/gateway.js'

type Block = { cid: CID, bytes: Uint8Array }

const disk = tempBlockstore('pinery-gateway-car-')

/** The order a CAR has always had: depth-first, links in order, each block once, identity blocks left out. */
async function plainWalk (root: CID): Promise<Block[]> {
  const seen = new Set<string>()
  const out: Block[] = []
  const stack = [root]
  for (let cid = stack.pop(); cid != null; cid = stack.pop()) {
    const key = Buffer.from(cid.multihash.bytes).toString('base64')
    if (seen.has(key)) continue
    seen.add(key)
    const isIdentity = cid.multihash.code === identity.code
    const bytes = isIdentity ? cid.multihash.digest : await toBuffer(disk.store.get(cid))
    if (!isIdentity) out.push({ cid, bytes })
    if (cid.code === raw.code) continue
    const links = [...createUnsafe({ bytes, cid, codec: await getCodec(cid.code) }).links()].map(([, l]) => l)
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i] as CID)
  }
  return out
}

async function exported (root: CID, gateway = gatewayOver(disk.store)): Promise<Buffer> {
  const sink = collector()
  await (await gateway.car(root, [], root, {})).write(sink)
  return sink.bytes()
}

/** A file imported into the test's blockstore in the shape `options` asks for. */
const file = async (bytes: Uint8Array, options: FileShape = {}): Promise<CID> =>
  await storeFile(disk.store, bytes, options)

async function put (bytes: Uint8Array, code: number = raw.code): Promise<CID> {
  const cid = CID.createV1(code, await sha256.digest(bytes))
  await disk.store.put(cid, bytes)
  return cid
}

describe('the gateway\'s CAR export', () => {
  it.each<[string, { v0?: boolean, chunk?: number, fanout?: number }]>([
    ['raw leaves, four links a node (a deep tree)', {}],
    ['dag-pb leaves (CIDv0), four links a node', { v0: true }],
    ['256 KiB raw leaves under one node, more than the read-ahead', { chunk: 256 * 1024, fanout: 174 }]
  ])('is the plain walk\'s CAR byte for byte: %s', async (_name, options) => {
    const size = options.chunk != null ? 40 * options.chunk + 1000 : 150 * 1024
    const root = await file(randomBytes(size), options)
    const car = await exported(root)
    expect(car.equals(await carOf([root], await plainWalk(root)))).toBe(true)
  })

  it('keeps the order and each block once across dag-cbor, repeated links, identity links and large blocks',
    async () => {
      const chunk = randomBytes(1024)
      const repeated = await file(Buffer.concat(Array.from({ length: 30 }, () => chunk))) // one leaf, many times
      const other = await file(randomBytes(20 * 1024))
      const big = await put(randomBytes(300 * 1024)) // larger than a read slot
      const leaf = await put(randomBytes(100))
      const inline = CID.createV1(dagCbor.code, identity.digest(dagCbor.encode({ leaf })))
      const inlineRaw = CID.createV1(raw.code, identity.digest(new TextEncoder().encode('inline')))
      const middle = await put(dagCbor.encode({ files: [other, repeated], big }), dagCbor.code)
      const root = await put(dagCbor.encode({ a: repeated, b: [middle, inline, inlineRaw, other], c: big }),
        dagCbor.code)
      const car = await exported(root)
      const expected = await plainWalk(root)
      expect(expected.some(b => b.cid.equals(leaf))).toBe(true)
      expect(car.equals(await carOf([root], expected))).toBe(true)
    })

  it('reads ahead within its bound while the receiver is slow, and finishes when it catches up', async () => {
    const root = await file(randomBytes(64 * 256 * 1024), { chunk: 256 * 1024, fanout: 174 })
    const reads = noReads()
    const sink = collector(true)
    const writing = (await gatewayOver(disk.store, reads).car(root, [], root, {})).write(sink)
    await new Promise(resolve => setTimeout(resolve, 300))
    // Four batches of four blocks wait in the sink, one is being filled, sixteen blocks are read ahead.
    expect(reads.started).toBeGreaterThan(16)
    expect(reads.started).toBeLessThanOrEqual(4 * 4 + 4 + 16 + 2)
    sink.release()
    await writing
    expect(reads.started).toBe(65)
    expect(reads.maxInFlight).toBeLessThanOrEqual(16)
    expect(sink.bytes().equals(await carOf([root], await plainWalk(root)))).toBe(true)
  })

  it('stops reading and gives up at once when the request is aborted, even if the receiver never answers', async () => {
    const root = await file(randomBytes(64 * 256 * 1024), { chunk: 256 * 1024, fanout: 174 })
    const reads = noReads()
    const controller = new AbortController()
    const car = await gatewayOver(disk.store, reads).car(root, [], root, { signal: controller.signal })
    const writing = car.write(collector(true))
    await new Promise(resolve => setTimeout(resolve, 200))
    controller.abort()
    await expect(writing).rejects.toMatchObject({ name: 'AbortError' })
    const after = reads.started
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(reads.started).toBe(after)
    expect(reads.inFlight).toBe(0)
  })

  it('fails at a missing block after writing every block before it', async () => {
    const root = await file(randomBytes(40 * 1024))
    const blocks = await plainWalk(root)
    const gone = blocks[20] as Block
    await disk.store.delete(gone.cid)
    const sink = collector()
    await expect((await gatewayOver(disk.store).car(root, [], root, {})).write(sink))
      .rejects.toMatchObject({ name: 'NotFoundError' })
    const before = await carOf([root], blocks.slice(0, 20))
    expect(sink.bytes().equals(before)).toBe(true)
  })
})
