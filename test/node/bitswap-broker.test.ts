/**
 * The one assumption Pinery makes about @helia/bitswap's internals (its
 * broker's wantList emits 'block' events) holds for the pinned version, and a
 * broken assumption stops start-up with a clear message instead of silently
 * losing wants.
 */
import { readFile } from 'node:fs/promises'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { createHeliaLight } from 'helia'
import { afterEach, describe, expect, it } from 'vitest'
import { BITSWAP_VERSION, catchBitswapBroker } from '../../src/node/bitswap-broker.js'
import { startOrigin, type Origin } from '../fixtures/origin.js'
import type { CID } from 'multiformats/cid'

describe('the bitswap broker', () => {
  const stops: Array<() => Promise<void>> = []
  afterEach(async () => { for (const stop of stops.splice(0)) await stop() })

  it('is the pinned version', async () => {
    const installed = JSON.parse(
      await readFile(new URL('../../node_modules/@helia/bitswap/package.json', import.meta.url), 'utf8')
    ) as { version: string }
    const declared = JSON.parse(
      await readFile(new URL('../../package.json', import.meta.url), 'utf8')
    ) as { dependencies: Record<string, string> }
    expect(installed.version).toBe(BITSWAP_VERSION)
    expect(declared.dependencies['@helia/bitswap']).toBe(BITSWAP_VERSION)
  })

  it(
    'is caught through addBlockBroker, and its wantList announces every block received; its network is reachable',
    async () => {
      const origin: Origin = await startOrigin()
      stops.push(async () => { await origin.stop() })
      const base = createHeliaLight({
        blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), blockBrokers: [], routers: []
      })
      const light = withLibp2pLight(base, {
        addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: { identify: identify() }
      })
      const broker = catchBitswapBroker(light)
      const helia = withBitswap(light)
      await helia.start()
      stops.push(async () => { await helia.stop() })
      const { cid } = await origin.addRandomFile(1)
      await helia.libp2p.dial(multiaddr(origin.addrs[0] as string))
      const heard: string[] = []
      const { retrieve, blockEvents, network } = broker()
      expect(network.protocols.length).toBeGreaterThan(0)
      blockEvents.addEventListener('block', (evt) => {
        heard.push((evt as CustomEvent<{ cid: CID }>).detail.cid.toString())
      })
      const block = await retrieve(cid, { signal: AbortSignal.timeout(10_000) })
      expect(block.byteLength).toBeGreaterThan(0)
      expect(heard).toContain(cid.toString())
    })

  it('says which assumption broke when the broker has another shape', () => {
    const broker = catchBitswapBroker({ addBlockBroker: () => {} })
    expect(() => broker()).toThrow(/@helia\/bitswap is not 4\.0\.19 as checked/)
  })
})
