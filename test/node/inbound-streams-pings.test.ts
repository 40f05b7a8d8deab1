/**
 * Yamux pings (inbound-streams.ts PINGS): a peer pinging faster than keep-alive loses its connection, while real
 * peers' keep-alive (js-libp2p's yamux and ping service, Helia's, kubo's go-yamux) goes on being answered.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.js'
import { createPineryNode, type PineryNode } from '../../src/node/index.js'
import { PINGS } from '../../src/node/inbound-streams.js'
import { startKubo } from '../fixtures/kubo.js'
import { startOrigin } from '../fixtures/origin.js'
import type { Connection } from '@libp2p/interface'

const stops: Array<() => Promise<unknown>> = []
afterEach(async () => { await Promise.all(stops.splice(0).map(async stop => await stop())) })
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function startNode (): Promise<PineryNode> {
  const node = await createPineryNode(
    { listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], announce: [], bitswapImplementation: 'lean' },
    { blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), logger: createLogger({ level: 'silent' }) })
  stops.push(async () => await node.stop())
  return node
}

interface PingFrames { sendFrame: (header: object) => boolean, handlePing: (header: { flag: number }) => void }

describe('yamux pings', () => {
  it('close a connection that pings past PINGS', async () => {
    const pinery = await startNode()
    const peer = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    stops.push(async () => await peer.stop())
    const conn = await peer.dial(multiaddr(pinery.delegates()[0]))
    const muxer = (conn as unknown as { muxer: PingFrames }).muxer
    // Pinery's answers are counted here (js-yamux would close its own connection for answers it did not ask for).
    let answered = 0
    muxer.handlePing = (header) => { if (header.flag === 2) answered++ }
    for (let i = 0; i < 200 && conn.status === 'open'; i++) {
      muxer.sendFrame({ type: 2, flag: 1, streamID: 0, length: i })
    }
    await sleep(1000)
    // Old code answered all 200 and kept the connection.
    expect(conn.status).not.toBe('open')
    expect(answered).toBeLessThanOrEqual(PINGS.burst + 2)
    expect(pinery.inboundStreams().closed).toBe(1)
  })

  it('answer js-libp2p keep-alive (30 times as often as its default) beside its connection monitor', async () => {
    const pinery = await startNode()
    // The connection monitor asks for libp2p's ping protocol on a stream (Pinery does not speak it: "na").
    const peer = await createLibp2p({
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux({ keepAliveInterval: 1000 })],
      connectionMonitor: { pingInterval: 500 },
      services: { ping: ping() }
    })
    stops.push(async () => await peer.stop())
    const conn = await peer.dial(multiaddr(pinery.delegates()[0]))
    // A Helia origin as the suite runs them (yamux's default keep-alive: a ping when it connects, then every 30 s).
    const origin = await startOrigin()
    stops.push(async () => await origin.stop())
    const originConn = await origin.node.libp2p.dial(multiaddr(pinery.delegates()[0]))
    await sleep(5500)
    expect(conn.status).toBe('open')
    expect(originConn.status).toBe('open')
    const stats = pinery.inboundStreams()
    // ~6 keep-alive pings of the peer's and 1 of the origin's, none refused.
    expect(stats.pings).toBeGreaterThanOrEqual(6)
    expect(stats.closed).toBe(0)
    expect(rttOf(conn)).toBeGreaterThanOrEqual(0)
    expect(rttOf(originConn)).toBeGreaterThanOrEqual(0)
  })

  it('answer kubo\'s keep-alive, and kubo stays connected', async () => {
    const pinery = await startNode()
    const kubo = await startKubo()
    stops.push(async () => await kubo.stop())
    await kubo.ipfs(['swarm', 'connect', pinery.delegates()[0] as string])
    for (let i = 0; i < 100 && pinery.inboundStreams().pings === 0; i++) await sleep(100)
    await sleep(3000)
    const peers = await kubo.ipfs(['swarm', 'peers'])
    expect(peers).toContain(pinery.peerId)
    expect(pinery.inboundStreams().pings).toBeGreaterThanOrEqual(1)
    expect(pinery.inboundStreams().closed).toBe(0)
  })
})

/** The round trip yamux measured with its own pings on `conn` (-1 before one was answered). */
function rttOf (conn: Connection): number {
  return (conn as unknown as { muxer: { rtt: number } }).muxer.rtt
}
