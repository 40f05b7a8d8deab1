/**
 * A peer's wantlist flood against the sending side's ledger: a peer may send 4 MiB wantlists of ~80,000
 * entries one after another. Each entry was decoded as a CID before the ledger looked at it, also when
 * it could only be dropped (the peer's 4,096 wants already kept) or was a cancel of nothing: 48–59
 * CPU-s per GiB of wantlists against the real service, ~15× what blocks cost (hostile review, round
 * nine). Now only a want that is kept is decoded.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create } from 'multiformats/hashes/digest'
import { createPeerLedger } from '../../src/node/lean-bitswap/ledger.js'
import { Wantlist } from '../../src/node/lean-bitswap/message.js'
import { createSemaphore } from '../../src/pins/semaphore.js'
import type { Outbox } from '../../src/node/lean-bitswap/outbox.js'

const MAX_WANTS = 4096
const ENTRIES = 20_000

function ledgerOf (): ReturnType<typeof createPeerLedger> {
  const outbox: Outbox = { async send () { return true }, async warm () { return true }, close () {} }
  return createPeerLedger({ maxWants: MAX_WANTS, batchBytes: 1024 * 1024 },
    { blockstore: new MemoryBlockstore(), outbox, reads: createSemaphore(64) })
}

const randomCids = (n: number): Uint8Array[] =>
  Array.from({ length: n }, () => CID.createV1(raw.code, create(0x12, randomBytes(32))).bytes)

describe('peer ledger and a wantlist flood', () => {
  it('decodes only the wants it keeps', () => {
    const ledger = ledgerOf()
    let decoded = 0
    const decodeCid = (bytes: Uint8Array): CID => { decoded++; return CID.decode(bytes) }
    const wants = randomCids(ENTRIES)
    ledger.update(Wantlist.encode({ entries: wants.map(cid => ({ cid, priority: 1 })) }), decodeCid)
    expect(ledger.size()).toBe(MAX_WANTS)
    expect(decoded).toBe(MAX_WANTS)

    // Cancels of wants it does not hold cost no decoding; a cancel of one it holds still drops it.
    decoded = 0
    const cancels = Wantlist.encode({ entries: randomCids(ENTRIES).map(cid => ({ cid, priority: 1, cancel: true })) })
    ledger.update(cancels, decodeCid)
    expect(decoded).toBe(0)
    ledger.update(Wantlist.encode({ entries: [{ cid: wants[5] as Uint8Array, priority: 1, cancel: true }] }), decodeCid)
    expect(ledger.size()).toBe(MAX_WANTS - 1)
    ledger.close()
  })

  it('skips entries that are no CID', () => {
    const ledger = ledgerOf()
    const [good] = randomCids(1)
    ledger.update(Wantlist.encode({
      entries: [randomBytes(40), new Uint8Array([1, 0x55, 0x12, 0x20, 1, 2, 3]), good as Uint8Array]
        .map(cid => ({ cid, priority: 1 }))
    }), bytes => { try { return CID.decode(bytes) } catch { return undefined } })
    expect(ledger.size()).toBe(1)
    ledger.close()
  })
})
