/**
 * Pinery's lean bitswap against stock @helia/bitswap as an independent implementation, in both
 * directions, and against itself: real nodes over TCP + Noise + Yamux on 127.0.0.1, whole DAGs
 * walked by Pinery's own walker and compared byte for byte.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import { createLogger } from '../../src/logger.js'
import { createPineryNode, joinBlock, type BitswapImplementation, type PineryNode } from '../../src/node/index.js'
import { walkDag } from '../../src/pins/dag-walk.js'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import type { CID } from 'multiformats/cid'
import type { BlockCodec } from 'multiformats/codecs/interface'

const codecs = new Map<number, BlockCodec<number, unknown>>([[dagPb.code, dagPb], [raw.code, raw]])

/** Walks the DAG `root` through `node.want`, and returns the file's bytes in order. */
async function fetchFile (node: PineryNode, root: CID): Promise<Buffer> {
  const blocks = new Map<string, Uint8Array>()
  await walkDag(root, {
    getBlock: async (cid, options) => {
      const b = await node.want(cid, options)
      blocks.set(cid.toString(), joinBlock(b))
      return b
    },
    getCodec: async (code) => codecs.get(code) as BlockCodec<number, unknown>
  }, { concurrency: 64, rewantAfterMs: 10_000 })
  const parts: Uint8Array[] = []
  const collect = (cid: CID): void => {
    const bytes = blocks.get(cid.toString()) as Uint8Array
    if (cid.code === raw.code) { parts.push(bytes); return }
    const node = dagPb.decode(bytes)
    const data = node.Data != null ? UnixFS.unmarshal(node.Data).data : undefined
    if (data != null) parts.push(data)
    for (const link of node.Links) collect(link.Hash)
  }
  collect(root)
  return Buffer.concat(parts)
}

async function startReceiver (bitswap: BitswapImplementation): Promise<PineryNode> {
  return await createPineryNode(
    { listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], announce: [], bitswapImplementation: bitswap },
    { blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), logger: createLogger({ level: 'silent' }) }
  )
}

describe('lean bitswap interoperates', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c() })

  const pairs: Array<[BitswapImplementation, BitswapImplementation]> = [
    ['helia', 'lean'], ['lean', 'helia'], ['lean', 'lean']
  ]
  it.each(pairs)('%s origin → %s receiver: a 6 MiB file arrives whole', async (from, to) => {
    const origin: Origin = await startOrigin({ bitswap: from })
    cleanup.push(async () => { await origin.stop() })
    const receiver = await startReceiver(to)
    cleanup.push(async () => { await receiver.stop() })
    const { cid, bytes } = await origin.addRandomFile(6)
    await receiver.dialAll(origin.addrs.map(a => multiaddr(a)), { signal: AbortSignal.timeout(5000) })
    const got = await fetchFile(receiver, cid)
    expect(got.equals(bytes)).toBe(true)
  })

  it('a lean receiver asks peers that connect after the want was made', async () => {
    const origin = await startOrigin({ bitswap: 'helia' })
    cleanup.push(async () => { await origin.stop() })
    const receiver = await startReceiver('lean')
    cleanup.push(async () => { await receiver.stop() })
    const { cid, bytes } = await origin.addRandomFile(1)
    const pending = fetchFile(receiver, cid)
    await new Promise(resolve => setTimeout(resolve, 100))
    await receiver.dialAll(origin.addrs.map(a => multiaddr(a)), { signal: AbortSignal.timeout(5000) })
    expect((await pending).equals(bytes)).toBe(true)
  })
})
