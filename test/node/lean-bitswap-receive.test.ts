/**
 * The receiving side's reading of messages (receive.ts): a message split anywhere over chunks
 * decodes to what protons decodes from it whole, its blocks stay views of the chunks they arrived
 * in (no copy), and broken messages are refused with BadMessageError. And a block given as pieces
 * is stored whole by the durable blockstore's writev.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import toBuffer from 'it-to-buffer'
import { afterEach, describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { joinBlock } from '../../src/node/block-bytes.js'
import { DurableFsBlockstore } from '../../src/node/durable-blockstore.js'
import { BlockPresenceType, Message, WantType, Wantlist } from '../../src/node/lean-bitswap/message.js'
import { BadMessageError, createPieceReader, decodeReceived } from '../../src/node/lean-bitswap/receive.js'
import { MAX_MESSAGE_BYTES, cidPrefix, frame, verifiedCid } from '../../src/node/lean-bitswap/wire.js'

const LIMITS = { blocks: 100, presences: 100 }

async function rawBlock (size: number): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = randomBytes(size)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

/** One length-prefixed message as a single buffer. */
function wire (message: Partial<Message>): Uint8Array {
  return joinBlock(frame(message))
}

interface Read { pieces: Uint8Array[], length: number }

/** Feeds `bytes` to a piece reader in chunks cut at `cuts`; returns each message's pieces and the chunks. */
function readInChunks (bytes: Uint8Array, cuts: number[]): { messages: Read[], chunks: Uint8Array[] } {
  const messages: Read[] = []
  const read = createPieceReader(MAX_MESSAGE_BYTES, (pieces, length) => { messages.push({ pieces, length }) })
  const chunks: Uint8Array[] = []
  let at = 0
  for (const cut of [...cuts, bytes.byteLength]) {
    // Each chunk in its own buffer, as decrypted Noise frames arrive.
    const chunk = Uint8Array.from(bytes.subarray(at, cut))
    chunks.push(chunk)
    read(chunk)
    at = cut
  }
  return { messages, chunks }
}

describe('receiving messages without copying', () => {
  it('decodes a message cut anywhere as protons decodes it whole, blocks as views of the chunks', async () => {
    const blocks = await Promise.all([rawBlock(3000), rawBlock(1), rawBlock(5000)])
    const v0 = randomBytes(700)
    const message: Partial<Message> = {
      wantlist: {
        entries: [{ cid: blocks[0]?.cid.bytes as Uint8Array, priority: 3, wantType: WantType.Have }],
        full: true
      },
      blocksV100: [v0],
      payload: blocks.map(b => ({ prefix: cidPrefix(b.cid), data: b.bytes })),
      blockPresences: [{ cid: blocks[1]?.cid.bytes as Uint8Array, type: BlockPresenceType.DontHave }],
      pendingBytes: -1
    }
    const bytes = wire(message)
    const whole = Message.decode(Message.encode(message))
    const cutPoints = [[], [1], [2, 700],
      ...Array.from({ length: 40 }, (_, i) => [Math.floor((i + 1) * bytes.byteLength / 41)]),
      Array.from({ length: 200 }, (_, i) => i * 50 + 3)]
    for (const cuts of cutPoints) {
      const { messages, chunks } = readInChunks(bytes, cuts.filter(c => c < bytes.byteLength))
      expect(messages).toHaveLength(1)
      const { pieces, length } = messages[0] as Read
      const got = decodeReceived(pieces, length, LIMITS)
      expect(Wantlist.decode(joinBlock(got.wantlist as Uint8Array[]))).toEqual(whole.wantlist)
      expect(got.blocks.map(b => [...joinBlock(b.data)])).toEqual([v0, ...blocks.map(b => b.bytes)].map(b => [...b]))
      expect(got.blocks.slice(1).map(b => verifiedCid(b.prefix as Uint8Array, b.data)?.toString()))
        .toEqual(blocks.map(b => b.cid.toString()))
      // Not copied: every piece of block data is a view of one of the chunks.
      const buffers = new Set(chunks.map(c => c.buffer))
      for (const b of got.blocks) for (const p of b.data) expect(buffers.has(p.buffer as ArrayBuffer)).toBe(true)
      // Nor is the wantlist (it was joined into a new buffer when it spanned chunks).
      for (const p of got.wantlist ?? []) expect(buffers.has(p.buffer as ArrayBuffer)).toBe(true)
    }
  })

  it('reads several messages from one chunk, and an empty one at once', () => {
    const a = wire({ blocksV100: [new Uint8Array([1, 2, 3])] })
    const messages: number[] = []
    const read = createPieceReader(MAX_MESSAGE_BYTES, (_pieces, length) => { messages.push(length) })
    read(joinBlock([a, new Uint8Array([0]), a]))
    expect(messages).toEqual([a.byteLength - 1, 0, a.byteLength - 1])
  })

  it('holds only the bytes a peer sent, not the length it announced', () => {
    const before = process.memoryUsage().arrayBuffers
    const readers = Array.from({ length: 64 }, () => createPieceReader(MAX_MESSAGE_BYTES, () => {}))
    for (const read of readers) read(new Uint8Array([0x80, 0x80, 0x80, 0x02, 1, 2, 3])) // 4 MiB announced, 3 sent
    expect((process.memoryUsage().arrayBuffers - before) / 2 ** 20).toBeLessThan(16)
    expect(readers).toHaveLength(64)
  })

  it('refuses broken messages with BadMessageError', () => {
    const decode = (bytes: number[]): unknown => decodeReceived([new Uint8Array(bytes)], bytes.length, LIMITS)
    expect(() => decode([0x1a, 0x05, 0x0a, 0x01])).toThrow(BadMessageError) // a payload entry past the end
    expect(() => decode([0x18, 0x01])).toThrow(BadMessageError) // payload (3) as a varint
    expect(() => decode([0x1a, 0x02, 0x12, 0x05])).toThrow(BadMessageError) // block data past the block's end
    expect(() => decode([0x0b])).toThrow(BadMessageError) // a group (wire type 3)
    expect(() => decode([0x28, 0xff])).toThrow(BadMessageError) // ends inside a varint
    expect(() => createPieceReader(16, () => {})(new Uint8Array([17]))).toThrow(BadMessageError)
    const many = Array.from({ length: 101 }, () => [0x12, 0x00]).flat()
    expect(() => decode(many)).toThrow(BadMessageError)
    // Unknown fields of every kind are skipped.
    expect(decode([0x48, 0x96, 0x01, 0x51, 1, 2, 3, 4, 5, 6, 7, 8, 0x5a, 0x01, 9, 0x65, 1, 2, 3, 4, 0x12, 0x01, 7]))
      .toEqual({ blocks: [{ data: [new Uint8Array([7])] }] })
  })
})

describe('durable blockstore', () => {
  let dir: string | undefined
  afterEach(async () => { if (dir != null) await rm(dir, { recursive: true, force: true }) })

  it('stores a block given as pieces whole', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-pieces-'))
    const store = new DurableFsBlockstore(join(dir, 'blocks'))
    await store.open()
    const { cid, bytes } = await rawBlock(300_000)
    const pieces = [bytes.subarray(0, 1), bytes.subarray(1, 1), bytes.subarray(1, 65_537), bytes.subarray(65_537)]
    await store.put(cid, pieces)
    expect(Buffer.from(await toBuffer(store.get(cid))).equals(bytes)).toBe(true)
  })
})
