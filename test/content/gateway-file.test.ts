/**
 * The gateway's file bodies at their seam, over a real blockstore on disk:
 * any range of a UnixFS file (raw or dag-pb leaves, deep trees, repeated
 * chunks, a single raw block) is exactly those bytes of the file; a slow
 * receiver holds the reading back to its read-ahead; a file whose blocks do
 * not add up, or is missing one, fails after what came before.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { collector, gatewayOver, noReads, storeFile, tempBlockstore, type FileShape } from '../fixtures/gateway.js'
import type { GatewayEntry } from '../../src/content/index.js'
import type { CID } from 'multiformats/cid'

const disk = tempBlockstore('pinery-gateway-file-')

/** A file imported into the test's blockstore in the shape `options` asks for. */
const file = async (bytes: Uint8Array, options: FileShape = {}): Promise<CID> =>
  await storeFile(disk.store, bytes, options)

async function fileEntry (
  root: CID, gateway = gatewayOver(disk.store)
): Promise<Extract<GatewayEntry, { type: 'file' }>> {
  const { entry } = await gateway.resolve(root, [], {})
  if (entry.type !== 'file') throw new Error(`not a file: ${entry.type}`)
  return entry
}

async function body (entry: Extract<GatewayEntry, { type: 'file' }>, offset: number, length: number): Promise<Buffer> {
  const sink = collector()
  await entry.body({ offset, length }, {}).write(sink)
  return sink.bytes()
}

describe('the gateway\'s file bodies', () => {
  const chunk = randomBytes(1024)
  it.each<[string, () => Uint8Array, { v0?: boolean, chunk?: number, fanout?: number }]>([
    ['raw leaves, four links a node (a deep tree)', () => randomBytes(70 * 1024 + 17), {}],
    ['dag-pb leaves (CIDv0)', () => randomBytes(70 * 1024 + 17), { v0: true }],
    ['one chunk repeated (the same leaf, linked again and again)',
      () => Buffer.concat(Array.from({ length: 40 }, () => chunk)), {}],
    ['a single raw block', () => randomBytes(900), {}]
  ])('gives exactly the bytes of any range: %s', async (_name, make, options) => {
    const bytes = Buffer.from(make())
    const entry = await fileEntry(await file(bytes, options))
    expect(entry.size).toBe(bytes.byteLength)
    const n = bytes.byteLength
    const ranges = [[0, n], [0, 1], [n - 1, 1], [1023, 2], [1024, 1024], [5000, 30_000], [3, n - 3], [n - 2048, 2048]]
    for (const [offset, length] of ranges.filter(([o, l]) => o! >= 0 && o! + l! <= n) as Array<[number, number]>) {
      expect((await body(entry, offset, length)).equals(bytes.subarray(offset, offset + length)), `${offset}+${length}`)
        .toBe(true)
    }
  })

  it('reads only the blocks a range needs', async () => {
    const reads = noReads()
    const entry = await fileEntry(await file(randomBytes(256 * 1024), { chunk: 1024, fanout: 16 }),
      gatewayOver(disk.store, reads))
    await body(entry, 100 * 1024 + 5, 10)
    // The root, one node of each level under it, the one leaf.
    expect(reads.started).toBeLessThanOrEqual(4)
  })

  it('reads ahead only as far as its bound while the receiver is slow', async () => {
    const bytes = randomBytes(64 * 256 * 1024)
    const reads = noReads()
    const entry = await fileEntry(await file(bytes, { chunk: 256 * 1024, fanout: 174 }), gatewayOver(disk.store, reads))
    const sink = collector(true)
    const writing = entry.body({ offset: 0, length: bytes.byteLength }, {}).write(sink)
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(reads.started).toBeLessThanOrEqual(4 * 4 + 4 + 16 + 2)
    sink.release()
    await writing
    expect(reads.started).toBe(65)
    expect(sink.bytes().equals(bytes)).toBe(true)
  })

  it('fails after the bytes before a missing block, and when the blocks hold fewer bytes than the file says',
    async () => {
      const bytes = randomBytes(10 * 1024)
      const root = await file(bytes, { fanout: 16 })
      const entry = await fileEntry(root)
      const rootBytes = await disk.store.get(root).next().then(r => r.value as Uint8Array)
      const links = (await import('@ipld/dag-pb')).decode(rootBytes).Links
      await disk.store.delete((links[4] as { Hash: CID }).Hash)
      const sink = collector()
      await expect(entry.body({ offset: 0, length: bytes.byteLength }, {}).write(sink))
        .rejects.toMatchObject({ name: 'NotFoundError' })
      expect(sink.bytes().equals(bytes.subarray(0, 4 * 1024))).toBe(true)
      // Asked for more than the blocks hold (a root whose sizes lie, as a range past the end would be).
      const short = await fileEntry(await file(randomBytes(3000)))
      await expect(short.body({ offset: 0, length: 4000 }, {}).write(collector()))
        .rejects.toMatchObject({ name: 'BrokenFileError' })
    })
})
