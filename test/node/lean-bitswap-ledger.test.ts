/**
 * The sending side's ledger of one peer: cancels drop wants that are queued or still being read,
 * a full wantlist replaces the old one, and blocks go out in the order they were wanted, in
 * several messages rather than one. Reads are held at a gate to catch wants in flight. And the
 * hand-framed block messages decode to what protons would have encoded.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { createPeerLedger } from '../../src/node/lean-bitswap/ledger.js'
import { BlockPresenceType, Message, Wantlist } from '../../src/node/lean-bitswap/message.js'
import {
  MAX_MESSAGE_BYTES, cidPrefix, createMessageReader, frame, verifiedCid
} from '../../src/node/lean-bitswap/wire.js'
import { createSemaphore } from '../../src/pins/semaphore.js'
import type { Outbox } from '../../src/node/lean-bitswap/outbox.js'

/** A real in-memory blockstore whose reads wait until the gate opens. */
function gatedBlockstore (): { blockstore: MemoryBlockstore, open: () => void } {
  const blockstore = new MemoryBlockstore()
  let open!: () => void
  const gate = new Promise<void>(resolve => { open = resolve })
  const get = blockstore.get.bind(blockstore)
  blockstore.get = async function * (cid, options) { await gate; yield * get(cid, options) }
  return { blockstore, open }
}

function recordingOutbox (): { outbox: Outbox, sent: Array<Partial<Message>> } {
  const sent: Array<Partial<Message>> = []
  return { sent, outbox: { async send (m) { sent.push(m); return true }, async warm () { return true }, close () {} } }
}

async function blocks (n: number, size: number): Promise<Array<{ cid: CID, bytes: Uint8Array }>> {
  return await Promise.all(Array.from({ length: n }, async () => {
    const bytes = randomBytes(size)
    return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
  }))
}

const sentCids = (sent: Array<Partial<Message>>): string[] =>
  sent.flatMap(m => m.payload ?? []).map(b => verifiedCid(b.prefix, b.data)?.toString() ?? 'bad')

const settle = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 50)) }

describe('peer ledger', () => {
  it('does not send blocks cancelled while queued or being read', async () => {
    const { blockstore, open } = gatedBlockstore()
    const all = await blocks(20, 1024)
    for (const b of all) await blockstore.put(b.cid, b.bytes)
    const { outbox, sent } = recordingOutbox()
    const ledger = createPeerLedger(
      { maxWants: 100, batchBytes: 4096 },
      { blockstore, outbox, reads: createSemaphore(64) }
    )
    ledger.update(Wantlist.encode({ entries: all.map(b => ({ cid: b.cid.bytes, priority: 1 })) }), c => CID.decode(c))
    // Every other block is cancelled: the first few are being read (read-ahead), the rest queued.
    ledger.update(Wantlist.encode({
      entries: all.filter((_, i) => i % 2 === 1).map(b => ({ cid: b.cid.bytes, priority: 1, cancel: true }))
    }), c => CID.decode(c))
    open()
    await settle()
    expect(sentCids(sent)).toEqual(all.filter((_, i) => i % 2 === 0).map(b => b.cid.toString()))
    expect(sent.length).toBeGreaterThan(1)
    expect(ledger.size()).toBe(0)
  })

  it('a full wantlist replaces the wants before it', async () => {
    const { blockstore, open } = gatedBlockstore()
    const all = await blocks(6, 100)
    for (const b of all) await blockstore.put(b.cid, b.bytes)
    const { outbox, sent } = recordingOutbox()
    const ledger = createPeerLedger(
      { maxWants: 100, batchBytes: 4096 },
      { blockstore, outbox, reads: createSemaphore(64) }
    )
    const first = Wantlist.encode({ entries: all.slice(0, 4).map(b => ({ cid: b.cid.bytes, priority: 1 })) })
    ledger.update(first, c => CID.decode(c))
    ledger.update(Wantlist.encode({
      full: true, entries: all.slice(3).map(b => ({ cid: b.cid.bytes, priority: 1 }))
    }), c => CID.decode(c))
    open()
    await settle()
    expect(sentCids(sent).sort()).toEqual(all.slice(3).map(b => b.cid.toString()).sort())
  })

  it('closing drops every want', async () => {
    const { blockstore, open } = gatedBlockstore()
    const all = await blocks(4, 100)
    for (const b of all) await blockstore.put(b.cid, b.bytes)
    const { outbox, sent } = recordingOutbox()
    const ledger = createPeerLedger(
      { maxWants: 100, batchBytes: 4096 },
      { blockstore, outbox, reads: createSemaphore(64) }
    )
    ledger.update(Wantlist.encode({ entries: all.map(b => ({ cid: b.cid.bytes, priority: 1 })) }), c => CID.decode(c))
    ledger.close()
    open()
    await settle()
    expect(sent).toEqual([])
  })
})

describe('message framing', () => {
  it('blocks framed without copying decode to the same message protons would encode', async () => {
    const all = await blocks(3, 5000)
    const message = {
      payload: all.map(b => ({ prefix: cidPrefix(b.cid), data: b.bytes })),
      blockPresences: [{ cid: all[0]?.cid.bytes as Uint8Array, type: BlockPresenceType.DontHave }]
    }
    const parts = frame(message)
    expect(parts.length).toBe(6) // head + first block's header, data, then header and data of each other block
    const decoded: Message[] = []
    const read = createMessageReader(MAX_MESSAGE_BYTES, (bytes) => { decoded.push(Message.decode(bytes)) })
    for (const p of parts) read(p)
    expect(decoded).toHaveLength(1)
    const got = decoded[0] as Message
    expect(got.payload.map(b => verifiedCid(b.prefix, b.data)?.toString())).toEqual(all.map(b => b.cid.toString()))
    expect(got.blockPresences).toEqual(message.blockPresences)
    expect(Message.decode(Message.encode(message))).toEqual(got)
  })
})

describe('message reader', () => {
  it('holds only the bytes a peer sent, not the length it announced', () => {
    const before = process.memoryUsage().arrayBuffers
    const readers = Array.from({ length: 64 }, () => createMessageReader(MAX_MESSAGE_BYTES, () => {}))
    for (const read of readers) read(new Uint8Array([0x80, 0x80, 0x80, 0x02, 1, 2, 3])) // 4 MiB announced, 3 sent
    // Announced: 64 × 4 MiB = 256 MiB; sent: 448 bytes.
    expect((process.memoryUsage().arrayBuffers - before) / 2 ** 20).toBeLessThan(16)
    expect(readers).toHaveLength(64)
  })

  it('joins a message spread over chunks, and hands on a whole one without copying', () => {
    const got: Uint8Array[] = []
    const read = createMessageReader(MAX_MESSAGE_BYTES, (m) => { got.push(m) })
    const chunk = new Uint8Array([3, 7, 8, 9, 2, 5])
    read(chunk)
    read(new Uint8Array([6]))
    expect(got.map(m => [...m])).toEqual([[7, 8, 9], [5, 6]])
    expect(got[0]?.buffer).toBe(chunk.buffer)
  })
})
