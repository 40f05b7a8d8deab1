/**
 * A want Pinery keeps for a peer must not keep the message it came in. Its CID was a view of the received
 * wantlist, which is copied out of the stream's chunks when it spans several: a peer that never reads
 * (so that its wants stay queued) and sends one want per 4 MiB message, padded with a field Wantlist does
 * not have, made the real service hold ~4 MiB per want, up to its 4,096 (hostile review, round ten:
 * main 199 → 1,979 MiB after 400 such messages). Now a kept want's CID is copied out of the message.
 */
import v8 from 'node:v8'
import vm from 'node:vm'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.js'
import { createPineryNode } from '../../src/node/index.js'
import { createLeanBitswap } from '../../src/node/lean-bitswap/index.js'
import { BITSWAP_PROTOCOL, frame } from '../../src/node/lean-bitswap/wire.js'
import { until } from '../fixtures/service.js'
import { paddedWantlist, randomWant } from '../../scripts/hostile/crafted.js'
import type { Stream } from '@libp2p/interface'

const logger = createLogger({ level: 'silent' })
const PADDED = 40
const MiB = 2 ** 20

async function send (stream: Stream, parts: Uint8Array[]): Promise<void> {
  for (const part of parts) if (!stream.send(part)) await stream.onDrain()
}

describe('lean bitswap and the wants it keeps', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c() })

  it('a kept want holds its CID, not the 1 MiB message it came in', async () => {
    const gc = (): void => { (vm.runInNewContext('gc') as () => void)() }
    v8.setFlagsFromString('--expose-gc')
    const node = await createPineryNode(
      { listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], announce: [], bitswapImplementation: 'lean' },
      { blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), logger })
    cleanup.push(async () => { await node.stop() })
    const server = createLeanBitswap({ wantlistDebounceMs: 0 },
      { libp2p: node.libp2p, blockstore: new MemoryBlockstore(), logger })
    await server.start()
    cleanup.push(async () => { await server.stop() })
    // The peer never reads what Pinery sends (its streams paused: no window update).
    const peer = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    cleanup.push(async () => { await peer.stop() })
    await peer.handle(BITSWAP_PROTOCOL, (stream) => { stream.pause() }, { maxInboundStreams: 64 })
    const stream = await peer.dialProtocol(multiaddr(node.delegates()[0] as string), BITSWAP_PROTOCOL)
    // DONT_HAVE answers (~42 bytes each) until its window is full and Pinery's sender waits with wants queued.
    for (let i = 0; i < 40 && server.stats().serving === 0; i++) {
      await send(stream, frame({ wantlist: { entries: Array.from({ length: 500 }, randomWant) } }))
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    const queued = server.stats().serving
    expect(queued).toBeGreaterThan(0)
    expect(queued).toBeLessThan(4096 - PADDED)

    gc()
    const before = process.memoryUsage().arrayBuffers
    for (let i = 0; i < PADDED; i++) await send(stream, paddedWantlist([randomWant()], MiB))
    await until(() => server.stats().serving >= queued + PADDED || undefined, 'the padded wants kept')
    let held = Number.POSITIVE_INFINITY
    for (let tries = 0; tries < 10 && held >= 8; tries++) {
      await new Promise(resolve => setTimeout(resolve, 100))
      gc()
      held = (process.memoryUsage().arrayBuffers - before) / MiB
    }
    // Old code: ~40 MiB (a 1 MiB copy of each wantlist, held by its want's CID).
    expect(held).toBeLessThan(8)
  })
})
