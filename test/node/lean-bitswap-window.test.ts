/**
 * The lean bitswap opens a sender's whole yamux window on each incoming bitswap stream, so a fetch
 * over a fresh connection does not spend round trips growing it from 256 KiB (stream-window.ts).
 * Seen from the sending side's real yamux stream.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { createLogger } from '../../src/logger.js'
import { createPineryNode, type PineryNode } from '../../src/node/index.js'
import { grantFullWindow } from '../../src/node/lean-bitswap/stream-window.js'
import { BITSWAP_PROTOCOL } from '../../src/node/lean-bitswap/wire.js'
import { waitFor } from '../fixtures/service.js'
import type { BitswapImplementation } from '../../src/node/index.js'

const logger = createLogger({ level: 'silent' })
const YAMUX_INITIAL_WINDOW = 256 * 1024
const YAMUX_MAX_WINDOW = 16 * 1024 * 1024

async function startNode (bitswapImplementation: BitswapImplementation): Promise<PineryNode> {
  return await createPineryNode({ listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], announce: [], bitswapImplementation },
    { blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), logger })
}

/** The send window of a yamux stream (private in js-yamux's typings). */
const sendWindow = (stream: unknown): number => (stream as { sendWindowCapacity: number }).sendWindowCapacity

describe('lean bitswap receive window', () => {
  const nodes: PineryNode[] = []
  afterEach(async () => { for (const node of nodes.splice(0)) await node.stop() })

  it.each([
    ['lean', YAMUX_MAX_WINDOW],
    // The control: stock @helia/bitswap leaves yamux's window where it starts.
    ['helia', YAMUX_INITIAL_WINDOW]
  ] as const)('a %s receiver leaves a new bitswap stream a send window of %d bytes', async (receiver, expected) => {
    const server = await startNode(receiver)
    const client = await startNode('helia')
    nodes.push(server, client)
    const conn = await client.libp2p.dial(server.libp2p.getMultiaddrs()[0] as ReturnType<typeof multiaddr>)
    const stream = await conn.newStream(BITSWAP_PROTOCOL)
    if (expected === YAMUX_MAX_WINDOW) {
      await waitFor(async () => sendWindow(stream) === expected ? true : undefined, 5000, 'the window update')
    } else {
      await new Promise(resolve => setTimeout(resolve, 300))
    }
    expect(sendWindow(stream)).toBe(expected)
  })

  it('leaves a stream of another muxer alone', () => {
    const other = { recvWindow: undefined, sendWindowUpdate: () => { throw new Error('called') } }
    expect(grantFullWindow(other as never)).toBe(false)
  })
})
