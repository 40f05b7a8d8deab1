/**
 * The lean bitswap opens a large yamux window on each incoming bitswap stream while it wants blocks, so a
 * fetch over a fresh connection does not spend round trips growing it from 256 KiB, and one at a 100 ms RTT
 * is not capped at yamux's 16 MiB / RTT (stream-window.ts). While it wants nothing, a stream can carry nothing
 * it fetches, and keeps 256 KiB (byte-budget.ts). Seen from the sending side's real yamux stream.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { createLogger } from '../../src/logger.js'
import { createPineryNode, type PineryNode } from '../../src/node/index.js'
import { BITSWAP_STREAM_WINDOW, grantFullWindow } from '../../src/node/lean-bitswap/stream-window.js'
import { BITSWAP_PROTOCOL } from '../../src/node/lean-bitswap/wire.js'
import { waitFor } from '../fixtures/service.js'
import type { BitswapImplementation } from '../../src/node/index.js'

const logger = createLogger({ level: 'silent' })
const YAMUX_INITIAL_WINDOW = 256 * 1024
/** 32 MiB: twice js-yamux's cap, whose 16 MiB / 100 ms = 160 MiB/s throttled a fetch at 100 ms RTT. */
const GRANTED = 32 * 1024 * 1024

async function startNode (bitswapImplementation: BitswapImplementation): Promise<PineryNode> {
  return await createPineryNode({ listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], announce: [], bitswapImplementation },
    { blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), logger })
}

/** The send window of a yamux stream (private in js-yamux's typings). */
const sendWindow = (stream: unknown): number => (stream as { sendWindowCapacity: number }).sendWindowCapacity

/** Makes `node` want a block nobody has until the test ends. */
async function wantSomething (node: PineryNode): Promise<void> {
  const cid = CID.createV1(raw.code, await sha256.digest(randomBytes(16)))
  node.want(cid, { signal: AbortSignal.timeout(20_000) }).catch(() => {})
}

describe('lean bitswap receive window', () => {
  const nodes: PineryNode[] = []
  afterEach(async () => { for (const node of nodes.splice(0)) await node.stop() })

  it.each([
    ['lean', true, GRANTED],
    ['lean', false, YAMUX_INITIAL_WINDOW],
    // The control: stock @helia/bitswap leaves yamux's window where it starts.
    ['helia', true, YAMUX_INITIAL_WINDOW]
  ] as const)('a %s receiver (wanting: %s) leaves a new bitswap stream a send window of %d bytes',
    async (receiver, wanting, expected) => {
      const server = await startNode(receiver)
      const client = await startNode('helia')
      nodes.push(server, client)
      if (wanting) await wantSomething(server)
      const conn = await client.libp2p.dial(server.libp2p.getMultiaddrs()[0] as ReturnType<typeof multiaddr>)
      const stream = await conn.newStream(BITSWAP_PROTOCOL)
      if (expected === GRANTED) {
        await waitFor(async () => sendWindow(stream) === expected ? true : undefined, 5000, 'the window update')
      } else {
        await new Promise(resolve => setTimeout(resolve, 300))
      }
      expect(sendWindow(stream)).toBe(expected)
    })

  it('grants what the constant says', () => {
    expect(BITSWAP_STREAM_WINDOW).toBe(GRANTED)
  })

  it('keeps the window through yamux\'s own tuning, which would cap it at 16 MiB', async () => {
    const server = await startNode('lean')
    const client = await startNode('lean')
    nodes.push(server, client)
    await wantSomething(server)
    const conn = await client.libp2p.dial(server.libp2p.getMultiaddrs()[0] as ReturnType<typeof multiaddr>)
    const stream = await conn.newStream(BITSWAP_PROTOCOL)
    await waitFor(async () => sendWindow(stream) === GRANTED ? true : undefined, 5000, 'the window update')
    // Data frames make the receiver send a window update per frame; each must top the window up to 32 MiB.
    for (let i = 0; i < 8; i++) stream.send(new Uint8Array(512 * 1024))
    await waitFor(async () => sendWindow(stream) === GRANTED ? true : undefined, 5000, 'the windows after data')
    expect(sendWindow(stream)).toBe(GRANTED)
  })

  it('leaves a stream of another muxer alone', () => {
    const other = { recvWindow: undefined, sendWindowUpdate: () => { throw new Error('called') } }
    expect(grantFullWindow(other as never)).toBe(false)
  })
})
