/**
 * A want Pinery keeps for a peer must not keep the message it came in. Its CID was a view of the received
 * wantlist, which is copied out of the stream's chunks when it spans several: a peer that never reads
 * (so that its wants stay queued) and sends one want per 4 MiB message, padded with a field Wantlist does
 * not have, made the real service hold ~4 MiB per want, up to its 4,096 (hostile review, round ten:
 * main 199 → 1,979 MiB after 400 such messages). Now a kept want's CID is copied out of the message.
 * Nor may a want hold a CID of any length (round eleven: at most MAX_WANT_CID_BYTES), and a wantlist is read
 * in the chunks it arrived in, not joined into a copy first.
 */
import { randomBytes } from 'node:crypto'
import v8 from 'node:v8'
import vm from 'node:vm'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create } from 'multiformats/hashes/digest'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.js'
import { createPineryNode } from '../../src/node/index.js'
import { createLeanBitswap, type LeanBitswap } from '../../src/node/lean-bitswap/index.js'
import { createPieceReader, decodeReceived, type ReceivedMessage } from '../../src/node/lean-bitswap/receive.js'
import { WantlistReader } from '../../src/node/lean-bitswap/wantlist-reader.js'
import { BITSWAP_PROTOCOL, MAX_MESSAGE_BYTES, frame } from '../../src/node/lean-bitswap/wire.js'
import { until } from '../fixtures/service.js'
import { paddedWantlist, randomWant } from '../../scripts/hostile/crafted.js'
import type { Stream } from '@libp2p/interface'

const logger = createLogger({ level: 'silent' })
const gc = (): void => { (vm.runInNewContext('gc') as () => void)() }
v8.setFlagsFromString('--expose-gc')
const PADDED = 40
const MiB = 2 ** 20

async function send (stream: Stream, parts: Uint8Array[]): Promise<void> {
  for (const part of parts) if (!stream.send(part)) await stream.onDrain()
}

describe('lean bitswap and the wants it keeps', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c() })

  /**
   * A node whose bitswap the test holds (its byte budget out of the way: lean-bitswap-flood-bytes.test.ts) and a
   * peer that never reads what Pinery sends (its streams paused: no window update), with a stream to the node
   * whose sender waits with wants queued: it filled the peer's window with DONT_HAVE answers (~42 bytes each).
   */
  async function pausedPeer (): Promise<{ server: LeanBitswap, stream: Stream, queued: number }> {
    const node = await createPineryNode(
      { listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], announce: [], bitswapImplementation: 'lean' },
      { blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), logger })
    cleanup.push(async () => { await node.stop() })
    const unlimited = { perSecond: 1e12, burst: 1e12 }
    const server = createLeanBitswap({
      wantlistDebounceMs: 0, inboundBytes: { perConnection: unlimited, perAddress: unlimited }
    }, { libp2p: node.libp2p, blockstore: new MemoryBlockstore(), logger })
    await server.start()
    cleanup.push(async () => { await server.stop() })
    const peer = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    cleanup.push(async () => { await peer.stop() })
    await peer.handle(BITSWAP_PROTOCOL, (stream) => { stream.pause() }, { maxInboundStreams: 64 })
    const stream = await peer.dialProtocol(multiaddr(node.delegates()[0] as string), BITSWAP_PROTOCOL)
    for (let i = 0; i < 40 && server.stats().serving === 0; i++) {
      await send(stream, frame({ wantlist: { entries: Array.from({ length: 500 }, randomWant) } }))
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    const queued = server.stats().serving
    expect(queued).toBeGreaterThan(0)
    expect(queued).toBeLessThan(4096 - PADDED)
    return { server, stream, queued }
  }

  /** Array buffer MiB held since `before` once garbage is collected (a few tries: frees can lag). */
  async function heldSince (before: number): Promise<number> {
    let held = Number.POSITIVE_INFINITY
    for (let tries = 0; tries < 10 && held >= 8; tries++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      gc()
      held = (process.memoryUsage().arrayBuffers - before) / MiB
    }
    return held
  }

  it('a kept want holds its CID, not the 1 MiB message it came in', async () => {
    const { server, stream, queued } = await pausedPeer()
    gc()
    const before = process.memoryUsage().arrayBuffers
    for (let i = 0; i < PADDED; i++) await send(stream, paddedWantlist([randomWant()], MiB))
    await until(() => server.stats().serving >= queued + PADDED || undefined, 'the padded wants kept')
    // Old code: ~40 MiB (a 1 MiB copy of each wantlist, held by its want's CID).
    expect(await heldSince(before)).toBeLessThan(8)
  })

  it('keeps no want of a CID longer than MAX_WANT_CID_BYTES (it would hold the CID)', async () => {
    const { server, stream, queued } = await pausedPeer()
    gc()
    const before = process.memoryUsage().arrayBuffers
    // A 1 MiB identity CID per want, then one ordinary want: once it is kept, the long ones were read.
    for (let i = 0; i < PADDED; i++) {
      const cid = CID.createV1(raw.code, create(0x00, randomBytes(MiB))).bytes
      await send(stream, frame({ wantlist: { entries: [{ cid, priority: 1, sendDontHave: true }] } }))
    }
    await send(stream, frame({ wantlist: { entries: [randomWant()] } }))
    await until(() => server.stats().serving > queued || undefined, 'the last want kept')
    // Old code: all 40 kept, ~40 MiB of CIDs held.
    expect(server.stats().serving).toBe(queued + 1)
    expect(await heldSince(before)).toBeLessThan(8)
  })

  it('reads a wantlist spread over a real stream\'s chunks where it lies (old code: joined into a copy)', async () => {
    const node = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()],
      streamMuxers: [yamux()]
    })
    cleanup.push(async () => { await node.stop() })
    const chunks: Uint8Array[] = []
    const got: ReceivedMessage[] = []
    await node.handle(BITSWAP_PROTOCOL, (stream) => {
      const read = createPieceReader(MAX_MESSAGE_BYTES, (pieces, length) => {
        got.push(decodeReceived(pieces, length, { blocks: 10, presences: 10 }))
      })
      stream.addEventListener('message', (evt) => {
        for (const chunk of evt.data instanceof Uint8Array ? [evt.data] : [...evt.data]) {
          chunks.push(chunk)
          read(chunk)
        }
      })
    })
    const peer = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    cleanup.push(async () => { await peer.stop() })
    const entries = Array.from({ length: 60_000 }, randomWant)
    const stream = await peer.dialProtocol(node.getMultiaddrs()[0] as Multiaddr, BITSWAP_PROTOCOL)
    await send(stream, frame({ wantlist: { entries } }))
    const message = await until(() => got[0], 'the message')
    const wantlist = message.wantlist as Uint8Array[]
    expect(wantlist.length).toBeGreaterThan(1)
    const buffers = new Set(chunks.map(c => c.buffer))
    for (const piece of wantlist) expect(buffers.has(piece.buffer)).toBe(true)
    const reader = new WantlistReader(wantlist, 100_000)
    expect(reader.count).toBe(entries.length)
  })
})
