/**
 * The bitswap 1.2.0 wire: the protocol id, the 4 MiB message limit, length-prefixed framing, and
 * the CID prefix that travels with each block (https://specs.ipfs.tech/bitswap-protocol/).
 * Every received block is hashed here and named by the CID the hash gives: a block whose bytes do
 * not match a want simply matches nothing.
 */
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { varint } from 'multiformats'
import { blockDigest, type BlockBytes } from '../block-bytes.js'
import { Message } from './message.js'

// Reading is in receive.ts; these two are part of the wire's surface for peers written in tests.
export { BadMessageError, createMessageReader } from './receive.js'

/** The only protocol spoken (Helia and kubo both speak it). */
export const BITSWAP_PROTOCOL = '/ipfs/bitswap/1.2.0'

/** The spec's (and kubo's and Helia's) limit on one message, in both directions. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024

/**
 * Inbound bitswap streams one connection may have open, for either bitswap. kubo (boxo's
 * `SendMessage`) sends every response on a new stream, as fast as the wants allow: up to
 * PINERY_FETCH_CONCURRENCY (256 by default) at once, 241 of 256 seen open together in a 64 MiB pin.
 * A stream refused is a block kubo sends again after Pinery wants it again: with 32, a 64 MiB pin
 * from kubo took 13.6 s and kubo sent 14 of every 65 blocks twice; with this, 1.6 s and none
 * (2026-12-01, load ~10; scripts/bench/RESULTS.md, round eleven). js-yamux refuses a connection's
 * 1,001st stream anyway. What unfinished messages hold is bounded in inbound-budget.ts, and what
 * paused streams hold in byte-budget.ts (at most 4 paused per connection; the rest are reset).
 */
export const MAX_INBOUND_STREAMS = 1000

/** The codec of a bitswap 1.0.0 block (CIDv0). */
const DAG_PB = 0x70

/**
 * Encodes one length-prefixed message as pieces to send one after the other. Blocks are not copied:
 * protons' encoder copies every block into one message buffer (256 MiB of copies and garbage per
 * 256 MiB served); here each block's bytes go out as they were read, after a few header bytes
 * written by hand — the `payload` field (3) of Message and its Block (prefix = 1, data = 2), the
 * layout message.proto gives. Everything else is encoded by protons, and protobuf concatenation
 * merges the two (repeated fields append). Measured in scripts/bench/RESULTS.md (bench:serve).
 */
export function frame (message: Partial<Message>): Uint8Array[] {
  const { payload = [], ...rest } = message
  const head = Message.encode(rest)
  const blockHeads = payload.map(b => blockHead(b.prefix, b.data.byteLength))
  let total = head.byteLength
  for (const [i, b] of payload.entries()) total += (blockHeads[i] as Uint8Array).byteLength + b.data.byteLength
  const length = varint.encodeTo(total, new Uint8Array(varint.encodingLength(total)))
  const first = concat([length, head, ...blockHeads.slice(0, 1)])
  const parts = [first]
  for (const [i, b] of payload.entries()) {
    if (i > 0) parts.push(blockHeads[i] as Uint8Array)
    parts.push(b.data)
  }
  return parts
}

/** The bytes of a payload entry before its data: field 3 header, then the Block's prefix and data headers. */
function blockHead (prefix: Uint8Array, dataLength: number): Uint8Array {
  const inner = 1 + varint.encodingLength(prefix.byteLength) + prefix.byteLength + 1 + varint.encodingLength(dataLength)
  const out = new Uint8Array(1 + varint.encodingLength(inner + dataLength) + inner)
  let o = 0
  out[o++] = (3 << 3) | 2
  varint.encodeTo(inner + dataLength, out, o); o += varint.encodingLength(inner + dataLength)
  out[o++] = (1 << 3) | 2
  varint.encodeTo(prefix.byteLength, out, o); o += varint.encodingLength(prefix.byteLength)
  out.set(prefix, o); o += prefix.byteLength
  out[o++] = (2 << 3) | 2
  varint.encodeTo(dataLength, out, o)
  return out
}

function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}

/** The bytes that go with a block so that the receiver can rebuild its CID: version, codec, hash code, length. */
export function cidPrefix (cid: CID): Uint8Array {
  const parts = [cid.version, cid.code, cid.multihash.code, cid.multihash.size]
  const out = new Uint8Array(parts.reduce((n, p) => n + varint.encodingLength(p), 0))
  let offset = 0
  for (const p of parts) { varint.encodeTo(p, out, offset); offset += varint.encodingLength(p) }
  return out
}

/**
 * Hashes a received block as its prefix says and returns the CID it really has; undefined if
 * unsupported. The data may be the pieces it arrived in: they are hashed one after the other.
 */
export function verifiedCid (prefix: Uint8Array, data: BlockBytes): CID | undefined {
  const parts: number[] = []
  let offset = 0
  try {
    for (let i = 0; i < 4; i++) {
      const [value, read] = varint.decode(prefix, offset)
      if (read === 0 || offset + read > prefix.byteLength) return undefined
      parts.push(value)
      offset += read
    }
  } catch {
    return undefined
  }
  const [version, codec, code, length] = parts as [number, number, number, number]
  return cidOf(version, codec, code, length, data)
}

/** The CID of a bitswap 1.0.0 block (sent without a prefix: always CIDv0). */
export function v0Cid (data: BlockBytes): CID | undefined {
  return cidOf(0, DAG_PB, 0x12, 32, data)
}

function cidOf (version: number, codec: number, code: number, length: number, data: BlockBytes): CID | undefined {
  const digest = blockDigest(code, length, data)
  if (digest == null) return undefined
  try {
    const mh = Digest.create(code, digest)
    return version === 0 ? CID.createV0(mh as Digest.Digest<0x12, 32>) : CID.createV1(codec, mh)
  } catch {
    return undefined
  }
}

/** The key under which wants and ledgers file a CID: its multihash, whatever its version and codec. */
export function wantKey (multihash: Uint8Array): string {
  return Buffer.from(multihash.buffer, multihash.byteOffset, multihash.byteLength).toString('base64')
}
