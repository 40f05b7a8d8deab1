/**
 * What a peer's unfinished messages make the lean bitswap hold (inbound-budget.ts). A message is kept
 * until its last byte arrives; a stranger sending all but the last byte of a 4 MiB message on each
 * of the 32 streams a connection may open held 128 MiB per connection, for ever (found by the
 * hostile review: 15 streams held 79 MB, still held 20 s later). Now a connection holds at most
 * 16 MiB, and a message that stops moving ends its stream.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { createLibp2p, type Libp2p } from 'libp2p'
import { varint } from 'multiformats'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.js'
import { createPineryNode, type PineryNode } from '../../src/node/index.js'
import { createLeanBitswap, type LeanBitswap } from '../../src/node/lean-bitswap/index.js'
import { MAX_UNFINISHED_PER_CONNECTION } from '../../src/node/lean-bitswap/inbound-budget.js'
import { BITSWAP_PROTOCOL, MAX_MESSAGE_BYTES } from '../../src/node/lean-bitswap/wire.js'
import { waitFor } from '../fixtures/service.js'
import type { Connection, Stream } from '@libp2p/interface'

const logger = createLogger({ level: 'silent' })
const piece = new Uint8Array(256 * 1024)
const prefix = (n: number): Uint8Array => varint.encodeTo(n, new Uint8Array(varint.encodingLength(n)))

/** Sends all but the last byte of a message of `size` bytes. */
async function sendUnfinished (stream: Stream, size: number): Promise<void> {
  if (!stream.send(prefix(size))) await stream.onDrain()
  for (let sent = 0; sent < size - 1 && stream.status === 'open'; sent += piece.byteLength) {
    const last = size - 1 - sent
    if (!stream.send(last < piece.byteLength ? piece.subarray(0, last) : piece)) {
      await stream.onDrain({ signal: AbortSignal.timeout(5_000) }).catch(() => {})
    }
  }
}

describe('lean bitswap and unfinished messages', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c() })

  /** A node whose bitswap the test holds (with `stallMs`), and a plain libp2p peer connected to it. */
  async function setUp (stallMs?: number): Promise<{ bitswap: LeanBitswap, conn: Connection }> {
    const node: PineryNode = await createPineryNode({
      listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], announce: [], bitswapImplementation: 'lean'
    }, { blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), logger })
    cleanup.push(async () => { await node.stop() })
    // A second lean bitswap over the same libp2p replaces the node's handler, so the test sees its stats.
    // The bytes of these messages are not held to a budget here (lean-bitswap-flood-bytes.test.ts does that).
    const inboundBytes = { perConnection: { perSecond: 1e9, burst: 1e9 }, perAddress: { perSecond: 1e9, burst: 1e9 } }
    const bitswap = createLeanBitswap({
      wantlistDebounceMs: 0, inboundBytes, ...(stallMs != null ? { inbound: { stallMs } } : {})
    }, { libp2p: node.libp2p, blockstore: new MemoryBlockstore(), logger })
    await bitswap.start()
    cleanup.push(async () => { await bitswap.stop() })
    const peer: Libp2p = await createLibp2p({
      transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()]
    })
    cleanup.push(async () => { await peer.stop() })
    return { bitswap, conn: await peer.dial(multiaddr(node.delegates()[0] as string)) }
  }

  it('one connection cannot park more than 16 MiB in unfinished messages', async () => {
    const { bitswap, conn } = await setUp()
    const streams: Stream[] = []
    for (let i = 0; i < 32; i++) {
      const stream = await conn.newStream(BITSWAP_PROTOCOL, { maxOutboundStreams: 64 })
      streams.push(stream)
      await sendUnfinished(stream, MAX_MESSAGE_BYTES)
    }
    await waitFor(async () => streams.filter(s => s.status === 'open').length <= 4 ? true : undefined, 10_000,
      'the streams over the bound to be reset')
    expect(bitswap.stats().unfinished).toBeLessThanOrEqual(MAX_UNFINISHED_PER_CONNECTION)
    expect(bitswap.stats().unfinished).toBeGreaterThan(MAX_UNFINISHED_PER_CONNECTION - 4 * 1024 * 1024)
    // Streams that end give their share back.
    for (const s of streams) s.abort(new Error('done'))
    await waitFor(async () => bitswap.stats().unfinished === 0 ? true : undefined, 10_000, 'the bytes given back')
  })

  it('ends a stream whose message stops moving, and keeps one whose messages finish', async () => {
    const { bitswap, conn } = await setUp(300)
    const stalled = await conn.newStream(BITSWAP_PROTOCOL)
    await sendUnfinished(stalled, 64 * 1024)
    const healthy = await conn.newStream(BITSWAP_PROTOCOL)
    // Empty messages, one every 100 ms for longer than the stall limit.
    for (let i = 0; i < 8; i++) {
      healthy.send(prefix(0))
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    await waitFor(async () => stalled.status !== 'open' ? true : undefined, 5_000, 'the stalled stream to end')
    expect(healthy.status).toBe('open')
    await waitFor(async () => bitswap.stats().unfinished === 0 ? true : undefined, 5_000, 'the bytes given back')
  })
})
