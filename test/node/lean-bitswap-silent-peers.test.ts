/**
 * Pinery as an origin against peers that want blocks and never read what it sends (their bitswap
 * streams paused: no yamux window update). Each such peer made the lean sender hold 8 blocks read ahead
 * and a 1 MiB message for as long as it stayed connected: 500 of them (no token needed, the connection
 * cap allows 1,000) took the real service from 566 to 1,610 MiB (hostile review, round nine). Now the
 * blocks all ledgers hold are bounded (SENDERS_MAX_HELD, plus one per peer), and a peer that reads is
 * still served meanwhile.
 */
import { randomBytes } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { createLibp2p, type Libp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.js'
import { createPineryNode, type PineryNode } from '../../src/node/index.js'
import { SENDERS_MAX_HELD } from '../../src/node/lean-bitswap/ledger.js'
import { Message } from '../../src/node/lean-bitswap/message.js'
import { BITSWAP_PROTOCOL, MAX_MESSAGE_BYTES, createMessageReader, frame } from '../../src/node/lean-bitswap/wire.js'
import { until } from '../fixtures/service.js'
import type { Stream } from '@libp2p/interface'

const logger = createLogger({ level: 'silent' })
const SILENT_PEERS = 40
const BLOCKS = 24

/** A real in-memory blockstore that counts the blocks read out of it (what the sender holds or sent). */
class CountingBlockstore extends MemoryBlockstore {
  reads = 0
  override get (...args: Parameters<MemoryBlockstore['get']>): ReturnType<MemoryBlockstore['get']> {
    this.reads++
    return super.get(...args)
  }
}

async function peer (onStream: (stream: Stream) => void): Promise<Libp2p> {
  const node = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
  await node.handle(BITSWAP_PROTOCOL, onStream, { maxInboundStreams: 64 })
  return node
}

describe('lean bitswap and peers that never read', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c() })

  it('holds a bounded number of blocks for them, and still serves a peer that reads', async () => {
    const blockstore = new CountingBlockstore()
    const node: PineryNode = await createPineryNode(
      { listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], announce: [], bitswapImplementation: 'lean' },
      { blockstore, datastore: new MemoryDatastore(), logger })
    cleanup.push(async () => { await node.stop() })
    const cids: CID[] = []
    for (let i = 0; i < BLOCKS; i++) {
      const bytes = randomBytes(256 * 1024)
      const cid = CID.createV1(raw.code, await sha256.digest(bytes))
      await blockstore.put(cid, bytes)
      cids.push(cid)
    }
    const addr = multiaddr(node.delegates()[0] as string)
    const wantAll = frame({ wantlist: { entries: cids.map(cid => ({ cid: cid.bytes, priority: 1 })) } })

    const silent = await Promise.all(Array.from({ length: SILENT_PEERS }, async () => {
      const p = await peer((stream) => { stream.pause() })
      cleanup.push(async () => { await p.stop() })
      const stream = await p.dialProtocol(addr, BITSWAP_PROTOCOL)
      for (const part of wantAll) stream.send(part)
      return p
    }))
    expect(silent).toHaveLength(SILENT_PEERS)
    // The reads stop once the sender holds what it may (old code: 12 blocks per peer, 480 here).
    let last = -1
    await until(() => {
      const steady = blockstore.reads === last && blockstore.reads > 0
      last = blockstore.reads
      return steady ? true : undefined
    }, 'the reads to stop', 20_000)
    await new Promise(resolve => setTimeout(resolve, 1000))
    expect(blockstore.reads).toBeLessThanOrEqual(SENDERS_MAX_HELD + 2 * SILENT_PEERS)

    // A peer that reads gets every block meanwhile.
    let blocks = 0
    const reader = await peer((stream) => {
      const read = createMessageReader(MAX_MESSAGE_BYTES, (bytes) => {
        blocks += Message.decode(Uint8Array.from(bytes)).payload.length
      })
      stream.addEventListener('message', (evt) => {
        if (evt.data instanceof Uint8Array) read(evt.data)
        else for (const part of evt.data) read(part)
      })
    })
    cleanup.push(async () => { await reader.stop() })
    const stream = await reader.dialProtocol(addr, BITSWAP_PROTOCOL)
    for (const part of wantAll) stream.send(part)
    await until(() => blocks >= BLOCKS ? true : undefined, 'every block at the reading peer', 20_000)
    expect(blocks).toBe(BLOCKS)
  }, 60_000)
})
