/**
 * In-process cost of one 4 MiB wantlist of 80,000 entries in a ledger (keeping 4,096 wants), per kind: the
 * hand-written reader (PeerLedger.update) against protons' decoding of the same bytes (the old path's first
 * step, before any ledger work). Medians of 20 messages each, ms. churn: 40,000 wants each cancelled by the
 * next entry, into an empty ledger (each want kept, its CID decoded, then dropped). `joinedMs` and `piecesMs`:
 * the same wantlist as it arrives, in 64 KiB chunks, joined into one buffer first (the receive path up to
 * round ten) or read where it lies (round eleven).
 *   node --import tsx scripts/hostile/reader-cost.ts
 */
import { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import { createPeerLedger } from '../../src/node/lean-bitswap/ledger.js'
import { Wantlist } from '../../src/node/lean-bitswap/message.js'
import { createSemaphore } from '../../src/pins/semaphore.js'
import { median } from '../bench/lib.js'
import { randomWant } from './crafted.js'
import type { Outbox } from '../../src/node/lean-bitswap/outbox.js'

const N = 80_000
const outbox: Outbox = { async send () { return true }, async warm () { return true }, close () {} }
const wants = Array.from({ length: N }, randomWant)
const kinds: Record<string, Uint8Array> = {
  'want (past the cap)': Wantlist.encode({ entries: wants }),
  'cancel (of held wants)': Wantlist.encode({ entries: wants.map(w => ({ ...w, cancel: true })) }),
  churn: Wantlist.encode({ entries: wants.slice(0, N / 2).flatMap(w => [w, { ...w, cancel: true }]) })
}
const CHUNK = 64 * 1024
const join = (pieces: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of pieces) { out.set(p, at); at += p.byteLength }
  return out
}
for (const [kind, bytes] of Object.entries(kinds)) {
  const pieces = Array.from({ length: Math.ceil(bytes.byteLength / CHUNK) }, (_, i) =>
    bytes.slice(i * CHUNK, (i + 1) * CHUNK))
  const times: Record<'ours' | 'joined' | 'pieces' | 'protons', number[]> =
    { ours: [], joined: [], pieces: [], protons: [] }
  /** Milliseconds `update` takes into a fresh ledger holding 4,096 wants (churn: an empty one). */
  const timed = (update: (ledger: ReturnType<typeof createPeerLedger>) => void): number => {
    const entries = { take: (n: number) => n, available: () => N }
    const ledger = createPeerLedger({ maxWants: 4096, batchBytes: 1 << 20, entries },
      { blockstore: new MemoryBlockstore(), outbox, reads: createSemaphore(64) })
    // Hold 4,096 wants first (the last ones of the list, which the cancels name too); churn starts empty.
    if (kind !== 'churn') ledger.update(Wantlist.encode({ entries: wants.slice(N - 4096) }), b => CID.decode(b))
    const t = performance.now()
    update(ledger)
    const ms = performance.now() - t
    ledger.close()
    return ms
  }
  for (let i = 0; i < 20; i++) {
    times.ours.push(timed(ledger => ledger.update(bytes, b => CID.decode(b))))
    times.joined.push(timed(ledger => ledger.update(join(pieces), b => CID.decode(b))))
    times.pieces.push(timed(ledger => ledger.update(pieces, b => CID.decode(b))))
    const t = performance.now()
    Wantlist.decode(bytes, { limits: { entries: 100_000 } })
    times.protons.push(performance.now() - t)
  }
  const ms = (xs: number[]): number => +median(xs).toFixed(1)
  console.log(JSON.stringify({
    kind, bytes: bytes.byteLength, readerMs: ms(times.ours), joinedMs: ms(times.joined), piecesMs: ms(times.pieces),
    protonsDecodeMs: ms(times.protons)
  }))
}
