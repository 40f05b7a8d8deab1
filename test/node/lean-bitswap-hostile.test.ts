/**
 * The lean bitswap on the wire, seen by a peer that speaks raw bitswap messages: what it answers
 * (blocks, HAVE, DONT_HAVE, on one stream), what it refuses (oversize or broken messages, blocks
 * that do not hash to their CID, more wants than it keeps), and cancels in both directions.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { createLogger } from '../../src/logger.js'
import { createPineryNode, joinBlock, type PineryNode } from '../../src/node/index.js'
import { createLeanBitswap, type LeanBitswap, type LeanBitswapInit } from '../../src/node/lean-bitswap/index.js'
import { BlockPresenceType, Message, WantType } from '../../src/node/lean-bitswap/message.js'
import {
  BITSWAP_PROTOCOL, MAX_MESSAGE_BYTES, cidPrefix, createMessageReader, frame, verifiedCid
} from '../../src/node/lean-bitswap/wire.js'
import type { Stream } from '@libp2p/interface'
import { until } from '../fixtures/service.js'

const logger = createLogger({ level: 'silent' })

async function rawBlock (bytes: Uint8Array): Promise<{ cid: CID, bytes: Uint8Array }> {
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

async function startNode (ip = '127.0.0.1'): Promise<{ node: PineryNode, blockstore: MemoryBlockstore }> {
  const blockstore = new MemoryBlockstore()
  const node = await createPineryNode(
    { listen: [multiaddr(`/ip4/${ip}/tcp/0`)], announce: [], bitswapImplementation: 'lean' },
    { blockstore, datastore: new MemoryDatastore(), logger }
  )
  return { node, blockstore }
}

/**
 * A peer whose bitswap handler only records what it receives (and `streams`: how many streams
 * carried a message), and which sends hand-made messages.
 */
async function startRawPeer (ip?: string): Promise<{ node: PineryNode, messages: Message[], streams: number }> {
  const { node } = await startNode(ip)
  const peer = { node, messages: [] as Message[], streams: 0 }
  await node.libp2p.handle(BITSWAP_PROTOCOL, (stream: Stream) => {
    let counted = false
    const read = createMessageReader(MAX_MESSAGE_BYTES, (bytes) => {
      if (!counted) { counted = true; peer.streams++ }
      peer.messages.push(Message.decode(Uint8Array.from(bytes)))
    })
    stream.addEventListener('message', (evt) => {
      if (evt.data instanceof Uint8Array) read(evt.data)
      else for (const part of evt.data) read(part)
    })
  }, { force: true, maxInboundStreams: 256 })
  return peer
}

async function send (stream: Stream, bytes: Uint8Array[]): Promise<void> {
  for (const b of bytes) if (!stream.send(b)) await stream.onDrain()
}

describe('lean bitswap on the wire', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c() })

  async function pair (init: Partial<LeanBitswapInit> = {}): Promise<{
    server: LeanBitswap
    blockstore: MemoryBlockstore
    peer: Awaited<ReturnType<typeof startRawPeer>>
    open: () => Promise<Stream>
    addr: Multiaddr
    node: PineryNode
  }> {
    const { node, blockstore } = await startNode()
    cleanup.push(async () => { await node.stop() })
    // A second lean bitswap over the same libp2p, reachable by the test (the node's own is not).
    const server = createLeanBitswap({ wantlistDebounceMs: 0, ...init }, { libp2p: node.libp2p, blockstore, logger })
    await server.start()
    cleanup.push(async () => { await server.stop() })
    const peer = await startRawPeer()
    cleanup.push(async () => { await peer.node.stop() })
    const addr = multiaddr(node.delegates()[0] as string)
    await peer.node.libp2p.dial(addr)
    const open = async (): Promise<Stream> => await peer.node.libp2p.dialProtocol(addr, BITSWAP_PROTOCOL)
    return { server, blockstore, peer, addr, open, node }
  }

  it(
    'answers want-block with blocks, want-have with HAVE, a missing block with DONT_HAVE, all on one stream',
    async () => {
      const { blockstore, peer, open } = await pair()
      const blocks = await Promise.all(Array.from({ length: 8 }, async () => await rawBlock(randomBytes(256 * 1024))))
      for (const b of blocks) await blockstore.put(b.cid, b.bytes)
      const missing = await rawBlock(randomBytes(10))
      const had = await rawBlock(randomBytes(10))
      await blockstore.put(had.cid, had.bytes)
      const stream = await open()
      await send(stream, frame({
        wantlist: { entries: blocks.slice(0, 6).map(b => ({ cid: b.cid.bytes, priority: 1 })) }
      }))
      await send(stream, frame({
        wantlist: {
          entries: [
            ...blocks.slice(6).map(b => ({ cid: b.cid.bytes, priority: 1 })),
            { cid: had.cid.bytes, priority: 1, wantType: WantType.Have, sendDontHave: true },
            { cid: missing.cid.bytes, priority: 1, sendDontHave: true }
          ]
        }
      }))
      const got = await until(() => {
        const payload = peer.messages.flatMap(m => m.payload)
        const presences = peer.messages.flatMap(m => m.blockPresences)
        return payload.length === 8 && presences.length === 2 ? { payload, presences } : undefined
      }, 'eight blocks and two presences')
      const cids = got.payload.map(b => verifiedCid(b.prefix, b.data)?.toString())
      expect(cids).toEqual(blocks.map(b => b.cid.toString()))
      expect(got.presences).toEqual(expect.arrayContaining([
        { cid: had.cid.bytes, type: BlockPresenceType.Have },
        { cid: missing.cid.bytes, type: BlockPresenceType.DontHave }
      ]))
      // Streamed as read: no message is the whole answer.
      expect(peer.messages.filter(m => m.payload.length > 0).length).toBeGreaterThan(1)
      expect(peer.streams).toBe(1)
    })

  it('resets a stream that announces a message over 4 MiB, and still answers on a new one', async () => {
    const { blockstore, peer, open } = await pair()
    const b = await rawBlock(randomBytes(1000))
    await blockstore.put(b.cid, b.bytes)
    const bad = await open()
    const closed = new Promise(resolve => { bad.addEventListener('close', resolve) })
    await send(bad, [new Uint8Array([0x81, 0x80, 0x80, 0x02]), randomBytes(1024)]) // 4 MiB + 1
    await closed
    expect(bad.status).toBe('reset')
    const good = await open()
    await send(good, frame({ wantlist: { entries: [{ cid: b.cid.bytes, priority: 1 }] } }))
    await until(() => peer.messages.some(m => m.payload.length === 1) || undefined, 'the block')
  })

  it('resets a stream that sends a broken protobuf message', async () => {
    const { open } = await pair()
    const bad = await open()
    const closed = new Promise(resolve => { bad.addEventListener('close', resolve) })
    await send(bad, [new Uint8Array([5]), new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f])])
    await closed
    expect(bad.status).toBe('reset')
  })

  it('keeps at most 4096 wants of one peer', async () => {
    const { peer, open } = await pair()
    const entries = await Promise.all(Array.from({ length: 6000 }, async (_, i) =>
      ({ cid: (await rawBlock(new TextEncoder().encode(`absent ${i}`))).cid.bytes, priority: 1, sendDontHave: true })))
    const stream = await open()
    await send(stream, frame({ wantlist: { entries } }))
    await until(() => peer.messages.flatMap(m => m.blockPresences).length >= 4096 || undefined, 'DONT_HAVEs')
    await new Promise(resolve => setTimeout(resolve, 200))
    expect(peer.messages.flatMap(m => m.blockPresences).length).toBe(4096)
  })

  it('drops wantlist entries past an address\'s budget, reads them once it refills; other addresses keep theirs',
    async () => {
      const budget = { wantlistEntries: { perSecond: 0.5, burst: 1000 } }
      const { server, blockstore, peer, open, node, addr } = await pair(budget)
      type Raw = Awaited<ReturnType<typeof rawBlock>>
      const [a, b, c] = await Promise.all([1, 2, 3].map(async () => await rawBlock(randomBytes(1000)))) as
        [Raw, Raw, Raw]
      for (const x of [a, b, c]) await blockstore.put(x.cid, x.bytes)
      const absent = await Promise.all(Array.from({ length: 999 }, async (_, i) =>
        ({ cid: (await rawBlock(new TextEncoder().encode(`absent ${i}`))).cid.bytes, priority: 1 })))
      const blocksOf = (p: { messages: Message[] }): Array<string | undefined> =>
        p.messages.flatMap(m => m.payload).map(x => verifiedCid(x.prefix, x.data)?.toString())
      const stream = await open()
      // The burst, all of it read: 999 absent blocks and a.
      await send(stream, frame({ wantlist: { entries: [...absent, { cid: a.cid.bytes, priority: 1 }] } }))
      await until(() => blocksOf(peer).includes(a.cid.toString()) || undefined, 'a')
      // Nothing left (one entry every 2 s): b is dropped unread.
      await send(stream, frame({ wantlist: { entries: [{ cid: b.cid.bytes, priority: 1 }] } }))
      await until(() => server.stats().cut >= 1 || undefined, 'b dropped')
      // A fresh peer ID from the same address draws on the same budget: dropped too (old code: a new burst).
      const fresh = await startRawPeer()
      cleanup.push(async () => { await fresh.node.stop() })
      const freshStream = await fresh.node.libp2p.dialProtocol(addr, BITSWAP_PROTOCOL)
      await send(freshStream, frame({ wantlist: { entries: [...absent, { cid: b.cid.bytes, priority: 1 }] } }))
      await until(() => server.stats().cut >= 2 || undefined, 'the fresh peer\'s wantlist dropped')
      // A peer at another address (127.0.0.2, dialled by the node) has a budget of its own.
      const other = await startRawPeer('127.0.0.2')
      cleanup.push(async () => { await other.node.stop() })
      await node.libp2p.dial(multiaddr(other.node.delegates()[0] as string))
      const back = await until(() => other.node.libp2p.getConnections(node.libp2p.peerId)[0], 'the connection')
      const otherStream = await back.newStream(BITSWAP_PROTOCOL)
      await send(otherStream, frame({ wantlist: { entries: [...absent, { cid: b.cid.bytes, priority: 1 }] } }))
      await until(() => other.messages.some(m => m.payload.length > 0) || undefined, 'b at the other address')
      // Refilled: c is read.
      await new Promise(resolve => setTimeout(resolve, 2500))
      await send(stream, frame({ wantlist: { entries: [{ cid: c.cid.bytes, priority: 1 }] } }))
      await until(() => blocksOf(peer).includes(c.cid.toString()) || undefined, 'c')
      expect(blocksOf(peer)).toEqual([a.cid.toString(), c.cid.toString()])
      expect(blocksOf(fresh)).toEqual([])
    })

  it('a block whose bytes do not hash to the wanted CID answers nothing; the real one does', async () => {
    const { server, peer } = await pair()
    const real = await rawBlock(randomBytes(1000))
    // The raw peer connected to the server: the server wants from it.
    const pending = server.want(real.cid, { signal: AbortSignal.timeout(10_000) })
    const want = await until(() => peer.messages.flatMap(m => m.wantlist?.entries ?? [])[0], 'the want')
    expect(want).toMatchObject({ cid: real.cid.bytes, wantType: WantType.Block, sendDontHave: true })
    const serverAddr = peer.node.libp2p.getConnections()[0]?.remotePeer
    const stream = await peer.node.libp2p.dialProtocol(serverAddr as never, BITSWAP_PROTOCOL)
    await send(stream, frame({ payload: [{ prefix: cidPrefix(real.cid), data: randomBytes(1000) }] }))
    const early = await Promise.race([pending, new Promise(resolve => setTimeout(() => { resolve('pending') }, 300))])
    expect(early).toBe('pending')
    await send(stream, frame({ payload: [{ prefix: cidPrefix(real.cid), data: real.bytes }] }))
    expect(Buffer.from(joinBlock(await pending)).equals(real.bytes)).toBe(true)
    expect(server.stats().wanted).toBe(0)
  })

  it('cancels a want at the peers it was sent to once nobody waits for it', async () => {
    const { server, peer } = await pair()
    const absent = await rawBlock(randomBytes(100))
    const controller = new AbortController()
    const pending = server.want(absent.cid, { signal: controller.signal })
    await until(() => peer.messages.flatMap(m => m.wantlist?.entries ?? [])[0], 'the want')
    controller.abort(new Error('no longer needed'))
    await expect(pending).rejects.toThrow('no longer needed')
    const cancel = await until(() => peer.messages.flatMap(m => m.wantlist?.entries ?? []).find(e => e.cancel === true),
      'the cancel')
    expect(cancel.cid).toEqual(absent.cid.bytes)
    expect(server.stats().wanted).toBe(0)
  })
})
