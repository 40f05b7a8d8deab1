/**
 * The lean bitswap as a sender reads blocks into reused buffers and lends them to the connection
 * (outbox.ts, `flushed`). A buffer given back too early would be read into again while its bytes
 * still wait, unencrypted, in the connection, and the peer would get a block that does not hash to
 * its CID. Here the blocks come from real files (DurableFsBlockstore.getInto) and cross a proxy that
 * reads the sender's socket in bursts while window updates flow back freely: the sender's socket
 * fills and its drains come late, the case where Noise holds plaintext. Every block must arrive
 * intact, and buffers must really have been reused.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { BLOCK_SLOT_BYTES, bufferPool, type BufferPool } from '../../src/content/batched-writer.js'
import { createLogger } from '../../src/logger.js'
import { DurableFsBlockstore } from '../../src/node/durable-blockstore.js'
import { createPineryNode } from '../../src/node/index.js'
import { createLeanBitswap } from '../../src/node/lean-bitswap/index.js'
import { Message } from '../../src/node/lean-bitswap/message.js'
import {
  BITSWAP_PROTOCOL, MAX_MESSAGE_BYTES, createMessageReader, frame, verifiedCid
} from '../../src/node/lean-bitswap/wire.js'
import type { Stream } from '@libp2p/interface'
import { until } from '../fixtures/service.js'

const logger = createLogger({ level: 'silent' })

/** A pool that counts how often a buffer it handed out before is handed out again. */
function countingPool (): BufferPool & { reused: number } {
  const pool = bufferPool(BLOCK_SLOT_BYTES, 32)
  const seen = new WeakSet<Uint8Array>()
  const counting = {
    size: pool.size,
    reused: 0,
    take () {
      const b = pool.take()
      if (seen.has(b)) counting.reused++
      seen.add(b)
      return b
    },
    give (b: Uint8Array) { pool.give(b) }
  }
  return counting
}

/** A TCP proxy; `release` resumes reading after a stall that has no end (`stallMs` Infinity). */
interface BurstProxy { port: number, release: () => void, close: () => Promise<void> }

/**
 * A TCP proxy to `targetPort` whose reading of the client side (the sender, which dials) stops for
 * `stallMs` after every `burst` bytes; the other direction passes at once.
 */
async function startBurstProxy (targetPort: number, burst: number, stallMs: number): Promise<BurstProxy> {
  const sockets = new Set<Socket>()
  const held = new Set<Socket>()
  const server: Server = createServer(inbound => {
    const outbound = connect(targetPort, '127.0.0.1')
    for (const s of [inbound, outbound]) {
      sockets.add(s)
      s.on('close', () => { sockets.delete(s) })
      s.on('error', () => { inbound.destroy(); outbound.destroy() })
    }
    let since = 0
    inbound.on('data', (chunk: Buffer) => {
      outbound.write(chunk)
      since += chunk.byteLength
      if (since < burst) return
      since = 0
      inbound.pause()
      if (Number.isFinite(stallMs)) setTimeout(() => { inbound.resume() }, stallMs)
      else held.add(inbound)
    })
    outbound.on('data', (chunk: Buffer) => { inbound.write(chunk) })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address == null || typeof address === 'string') throw new Error('proxy has no port')
  return {
    port: address.port,
    release () {
      stallMs = 0
      burst = Infinity
      for (const s of held) s.resume()
      held.clear()
    },
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}

const MiB = 1024 * 1024

/** What a bitswap stream carried: blocks by CID, and how many did not hash to a wanted CID. */
interface Collector {
  onStream: (stream: Stream) => void
  got: Map<string, number>
  bad: () => number
  wanted: Set<string>
}

interface Setup {
  blocks: Array<{ cid: CID, bytes: Uint8Array }>
  slots: ReturnType<typeof countingPool>
  /** Blocks read from the files so far. */
  reads: () => number
  /** Sends the receiver's want for every block. */
  wantAll: () => Promise<void>
  proxy?: BurstProxy
}

describe('lean bitswap sending from reused buffers', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c() })

  /**
   * `count` blocks of 256 KiB in files, served by a lean bitswap reading them into a counting pool,
   * to a receiver whose bitswap streams go to `onStream`; through a burst proxy when `proxy` is set.
   */
  async function setup (
    count: number, onStream: (stream: Stream) => void, proxy?: { burst: number, stallMs: number }
  ): Promise<Setup> {
    const dir = await mkdtemp(join(tmpdir(), 'pinery-lending-'))
    cleanup.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const blockstore = new DurableFsBlockstore(join(dir, 'blocks'))
    await blockstore.open()
    const blocks = await Promise.all(Array.from({ length: count }, async () => {
      const bytes = randomBytes(256 * 1024)
      return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
    }))
    for (const b of blocks) await blockstore.put(b.cid, b.bytes)
    let reads = 0
    const get = blockstore.get.bind(blockstore)
    blockstore.get = async function * (cid, options) { reads++; yield * get(cid, options) }

    // The receiving peer listens; the sender dials it (through the proxy: the sender's socket is the
    // one the proxy reads in bursts).
    const receiver = await createPineryNode({ listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], announce: [] },
      { blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), logger })
    cleanup.push(async () => { await receiver.stop() })
    await receiver.libp2p.handle(BITSWAP_PROTOCOL, onStream, { force: true, maxInboundStreams: 256 })
    let addr = receiver.delegates()[0] as string
    let p: BurstProxy | undefined
    if (proxy != null) {
      const started = await startBurstProxy(Number(/\/tcp\/(\d+)/.exec(addr)?.[1]), proxy.burst, proxy.stallMs)
      cleanup.push(async () => { await started.close() })
      addr = addr.replace(/\/tcp\/\d+/, `/tcp/${started.port}`)
      p = started
    }

    const sender = await createPineryNode({ listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], announce: [] },
      { blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore(), logger })
    cleanup.push(async () => { await sender.stop() })
    const slots = countingPool()
    // A second lean bitswap over the sender's libp2p, with the test's pool (the node's own has none).
    const server = createLeanBitswap({ wantlistDebounceMs: 0 }, {
      libp2p: sender.libp2p,
      blockstore,
      readInto: async (cid, target, options) => { reads++; return await blockstore.getInto(cid, target, options) },
      slots,
      logger
    })
    await server.start()
    cleanup.push(async () => { await server.stop() })
    await sender.libp2p.dial(multiaddr(addr))

    return {
      ...(p != null ? { proxy: p } : {}),
      blocks,
      slots,
      reads: () => reads,
      async wantAll () {
        // On a stream of the receiver's own, over the connection the sender dialled.
        const conn = await until(
          () => receiver.libp2p.getConnections().find(c => c.remotePeer.equals(sender.libp2p.peerId)), 'the connection')
        const wants = await conn.newStream(BITSWAP_PROTOCOL)
        for (const part of frame({ wantlist: { entries: blocks.map(b => ({ cid: b.cid.bytes, priority: 1 })) } })) {
          if (!wants.send(part)) await wants.onDrain()
        }
      }
    }
  }

  /** Records the blocks a bitswap stream carries: how many hash to a wanted CID, how many do not. */
  function collector (): Collector {
    const got = new Map<string, number>()
    const wanted = new Set<string>()
    let bad = 0
    const onStream = (stream: Stream): void => {
      const read = createMessageReader(MAX_MESSAGE_BYTES, (bytes) => {
        for (const block of Message.decode(bytes).payload) {
          const cid = verifiedCid(block.prefix, block.data)?.toString()
          if (cid == null || !wanted.has(cid)) bad++
          else got.set(cid, (got.get(cid) ?? 0) + 1)
        }
      })
      stream.addEventListener('message', (evt) => {
        if (evt.data instanceof Uint8Array) read(evt.data)
        else for (const part of evt.data) read(part)
      })
    }
    return { onStream, got, bad: () => bad, wanted }
  }

  it('sends every block intact to a peer whose socket fills, reusing the read buffers', async () => {
    const c = collector()
    const { blocks, slots, wantAll } = await setup(160, c.onStream, { burst: MiB / 2, stallMs: 15 })
    for (const b of blocks) c.wanted.add(b.cid.toString())
    await wantAll()
    await until(() => c.got.size === blocks.length || c.bad() > 0 ? true : undefined, 'every block', 60_000)
    expect(c.bad()).toBe(0)
    expect(c.got.size).toBe(blocks.length)
    // Most reads went into a buffer that had carried an earlier block.
    expect(slots.reused).toBeGreaterThan(blocks.length / 2)
  }, 90_000)

  it('holds a bounded amount for a peer that stops reading, and sends the rest once it reads again', async () => {
    const c = collector()
    // The proxy stops reading from the sender after 4 MiB (the stream has drained before by then):
    // the sender's socket fills, no window update comes, and the sender must wait with what it read.
    const { blocks, reads, wantAll, proxy } = await setup(240, c.onStream, { burst: 4 * MiB, stallMs: Infinity })
    for (const b of blocks) c.wanted.add(b.cid.toString())
    await wantAll()
    await until(() => c.got.size >= 8 ? true : undefined, 'the first blocks')
    await new Promise(resolve => setTimeout(resolve, 1000))
    // What the receiver took, the yamux window (≤ 16 MiB), the sockets' buffers and the read-ahead:
    // not all 240 wanted (60 MiB).
    expect(reads()).toBeLessThan(c.got.size + 64 + 24 + 12)
    proxy?.release()
    await until(() => c.got.size === blocks.length || c.bad() > 0 ? true : undefined, 'every block', 60_000)
    expect(c.bad()).toBe(0)
    expect(c.got.size).toBe(blocks.length)
  }, 90_000)
})
