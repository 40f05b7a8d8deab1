/**
 * Optimistic multistream-select (src/node/lazy-select.ts): a stream opened with `negotiateFully: false`
 * carries its first message before the peer's echo came back, so it costs no round trip of its own.
 * Counted without a clock: a TCP proxy between two real nodes holds back everything the listener sends
 * once the dialer's connection is up, and the first message must still reach the listener (with a full
 * negotiation it waits for the held echo and never leaves). Then the proxy lets go and the stream must
 * work as any other; and a peer that does not speak the protocol gets the stream aborted.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { createLogger } from '../../src/logger.js'
import { createPineryNode, joinBlock, type BitswapImplementation, type PineryNode } from '../../src/node/index.js'
import { BITSWAP_PROTOCOL } from '../../src/node/lean-bitswap/wire.js'
import { waitFor } from '../fixtures/service.js'
import type { Connection, Stream, StreamMessageEvent } from '@libp2p/interface'

const logger = createLogger({ level: 'silent' })
const PROTOCOL = '/pinery-test/lazy/1.0.0'

/** A proxy to `port` that can hold back what the listener sends to the dialer, and let it go again. */
interface HoldingProxy {
  port: number
  hold(): void
  release(): void
  /** Bytes the dialer has sent through so far. */
  upstream(): number
  close(): Promise<void>
}

async function startHoldingProxy (port: number): Promise<HoldingProxy> {
  const sockets: Socket[] = []
  const downstream: Array<{ to: Socket, held: Buffer[] }> = []
  let holding = false
  let upstream = 0
  const server: Server = createServer(dialer => {
    const listener = connect(port, '127.0.0.1')
    const down = { to: dialer, held: [] as Buffer[] }
    downstream.push(down)
    sockets.push(dialer, listener)
    dialer.on('data', (chunk: Buffer) => { upstream += chunk.byteLength; listener.write(chunk) })
    listener.on('data', (chunk: Buffer) => { if (holding) down.held.push(chunk); else dialer.write(chunk) })
    for (const s of [dialer, listener]) s.on('error', () => { dialer.destroy(); listener.destroy() })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    hold () { holding = true },
    upstream: () => upstream,
    release () {
      holding = false
      for (const d of downstream) for (const chunk of d.held.splice(0)) d.to.write(chunk)
    },
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}

/** A blockstore that notes every block it is asked about (read or checked). */
class AskedBlockstore extends MemoryBlockstore {
  readonly asked: string[] = []
  override get (key: CID, options?: object): ReturnType<MemoryBlockstore['get']> {
    this.asked.push(key.toString())
    return super.get(key, options)
  }

  override has (key: CID, options?: object): ReturnType<MemoryBlockstore['has']> {
    this.asked.push(key.toString())
    return super.has(key, options)
  }
}

async function startNode (
  blockstore = new AskedBlockstore(), bitswapImplementation: BitswapImplementation = 'lean'
): Promise<PineryNode> {
  return await createPineryNode({ listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], announce: [], bitswapImplementation },
    { blockstore, datastore: new MemoryDatastore(), logger })
}

/** The bytes a stream receives, as text. */
function collect (stream: Stream): () => string {
  let text = ''
  stream.addEventListener('message', (evt: StreamMessageEvent) => {
    text += new TextDecoder().decode(evt.data.subarray())
  })
  return () => text
}

describe('optimistic multistream-select', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c() })

  /** Dialer and listener through a holding proxy; the proxy holds from the moment the dialer is connected. */
  interface Held { dialer: PineryNode, listener: PineryNode, proxy: HoldingProxy, conn: Connection }
  async function connectHeld (store = new AskedBlockstore()): Promise<Held> {
    const listener = await startNode(store)
    cleanup.push(async () => { await listener.stop() })
    const dialer = await startNode()
    cleanup.push(async () => { await dialer.stop() })
    const port = Number(/\/tcp\/(\d+)/.exec(listener.delegates()[0] ?? '')?.[1])
    const proxy = await startHoldingProxy(port)
    cleanup.push(async () => { await proxy.close() })
    // Synchronously at the dialer's connection:open, before any stream of it was opened.
    dialer.libp2p.addEventListener('connection:open', () => { proxy.hold() })
    const conn = await dialer.libp2p.dial(multiaddr(`/ip4/127.0.0.1/tcp/${proxy.port}/p2p/${listener.peerId}`))
    return { dialer, listener, proxy, conn }
  }

  it('the first message reaches the peer before its echo is back, and the stream works after', async () => {
    const { listener, proxy, conn } = await connectHeld()
    let inbound: { read: () => string, stream: Stream } | undefined
    await listener.libp2p.handle(PROTOCOL, (stream) => { inbound = { read: collect(stream), stream } })
    const stream = await conn.newStream(PROTOCOL, { negotiateFully: false, signal: AbortSignal.timeout(10_000) })
    const read = collect(stream)
    stream.send(new TextEncoder().encode('hello'))
    // Nothing the listener sent after the handshake has reached the dialer: no echo, no round trip.
    await waitFor(async () => inbound?.read() === 'hello' ? true : undefined, 10_000, 'the first message')
    proxy.release()
    inbound?.stream.send(new TextEncoder().encode('world'))
    // The echo is taken off the front: the dialer sees exactly what the handler sent.
    await waitFor(async () => read() === 'world' ? true : undefined, 10_000, 'the answer')
    expect(stream.protocol).toBe(PROTOCOL)
  })

  it('a dial sends Noise\'s first message before the listener\'s echo of /noise is back', async () => {
    const listener = await startNode()
    cleanup.push(async () => { await listener.stop() })
    const dialer = await startNode()
    cleanup.push(async () => { await dialer.stop() })
    const proxy = await startHoldingProxy(Number(/\/tcp\/(\d+)/.exec(listener.delegates()[0] ?? '')?.[1]))
    cleanup.push(async () => { await proxy.close() })
    proxy.hold()
    const dialed = dialer.libp2p.dial(multiaddr(`/ip4/127.0.0.1/tcp/${proxy.port}/p2p/${listener.peerId}`),
      { signal: AbortSignal.timeout(20_000) })
    dialed.catch(() => {}) // awaited below; not unhandled if the wait fails first
    // The header and /noise are 28 bytes; Noise XX's first message (its length and an ephemeral key) 34 more.
    await waitFor(async () => proxy.upstream() >= 28 + 34 ? true : undefined, 10_000, 'Noise\'s first message')
    proxy.release()
    const conn = await dialed
    expect(conn.encryption).toBe('/noise')
    // libp2p's own identify stream runs over the new connection (a second one of ours raced it: at most one
    // outbound identify stream per connection): the listener's protocols reach the dialer through Noise.
    await waitFor(async () => (await dialer.libp2p.peerStore.get(conn.remotePeer)).protocols
      .includes('/ipfs/id/1.0.0') ? true : undefined, 10_000, 'identify over the connection')
  })

  it('a dial to a listener that answers "na" to /noise fails instead of hanging', async () => {
    const server = createServer(socket => {
      socket.on('error', () => {})
      socket.write(Buffer.from('\x13/multistream/1.0.0\n\x03na\n', 'latin1'))
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    cleanup.push(async () => { server.close() })
    const dialer = await startNode()
    cleanup.push(async () => { await dialer.stop() })
    const other = await startNode()
    const peer = other.peerId
    await other.stop()
    const port = (server.address() as { port: number }).port
    await expect(dialer.libp2p.dial(multiaddr(`/ip4/127.0.0.1/tcp/${port}/p2p/${peer}`),
      { signal: AbortSignal.timeout(10_000) })).rejects.toThrow(/select|negotiate/)
  })

  it('a peer that does not speak the protocol gets the stream aborted', async () => {
    const listener = await startNode()
    cleanup.push(async () => { await listener.stop() })
    const dialer = await startNode()
    cleanup.push(async () => { await dialer.stop() })
    const conn = await dialer.libp2p.dial(listener.libp2p.getMultiaddrs()[0] as ReturnType<typeof multiaddr>)
    const stream = await conn.newStream('/pinery-test/unknown/1.0.0', { negotiateFully: false })
    const read = collect(stream)
    const closed = new Promise<Error | undefined>(resolve => {
      stream.addEventListener('close', (evt) => { resolve((evt as Event & { error?: Error }).error) })
    })
    stream.send(new TextEncoder().encode('hello'))
    expect((await closed)?.name).toBe('UnsupportedProtocolError')
    expect(read()).toBe('')
  })

  it('a lean receiver\'s want reaches the origin before the origin\'s echo is back', async () => {
    const store = new AskedBlockstore()
    const { dialer, proxy } = await connectHeld(store)
    const bytes = new TextEncoder().encode('a block wanted over a fresh connection')
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await store.put(cid, bytes)
    const wanted = dialer.want(cid, { signal: AbortSignal.timeout(20_000) })
    await waitFor(async () => store.asked.includes(cid.toString()) ? true : undefined, 10_000, 'the want at the origin')
    proxy.release()
    expect(Buffer.from(joinBlock(await wanted)).equals(bytes)).toBe(true)
  })

  it('a lean receiver drops a peer that answers "na" to bitswap: later wants send it nothing', async () => {
    const listener = await startNode()
    cleanup.push(async () => { await listener.stop() })
    await listener.libp2p.unhandle(BITSWAP_PROTOCOL)
    // Without identify: its protocol list would drop the peer too (the registrar's topology), not only the "na".
    await listener.libp2p.unhandle('/ipfs/id/1.0.0')
    const dialer = await startNode()
    cleanup.push(async () => { await dialer.stop() })
    const proxy = await startHoldingProxy(Number(/\/tcp\/(\d+)/.exec(listener.delegates()[0] ?? '')?.[1]))
    cleanup.push(async () => { await proxy.close() })
    await dialer.libp2p.dial(multiaddr(`/ip4/127.0.0.1/tcp/${proxy.port}/p2p/${listener.peerId}`))
    const wantFor = async (text: string): Promise<void> => {
      const cid = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))
      await expect(dialer.want(cid, { signal: AbortSignal.timeout(500) })).rejects.toThrow()
    }
    // The first want goes out on a stream the peer refuses ("na"); the peer is dropped then.
    await wantFor('first')
    const before = proxy.upstream()
    await wantFor('second')
    expect(proxy.upstream()).toBe(before)
  })
})
