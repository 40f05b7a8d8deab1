/**
 * Reading a received Wantlist (message.proto) entry by entry, by hand, without an object per entry.
 * protons decoded every entry of a 4 MiB wantlist (~80,000) into an object with its CID as a view,
 * ~70–170 ms per message on the main thread: a peer flooding wantlists cost ~30 CPU-s per GiB and one
 * peer sending ~40 MB/s kept the main thread busy (hostile review, round nine). Here one reader walks
 * the bytes; the fields of the entry it is on are its own fields, the want key is read straight from the
 * CID's bytes, and a CID's bytes are copied out only for a want that is kept. An entry the ledger does
 * not need (past the peer's cap) costs a few varints. Malformed input is refused as protons refused it
 * (BadMessageError: the stream is reset).
 * Measured (scripts/hostile/reader-cost.ts, RESULTS.md round ten), one 3.7 MB wantlist of 80,000 entries:
 * 3.6 ms into a full ledger, 17.4 ms as cancels of held wants, against 70 ms for protons' decoding alone.
 *
 * The wantlist is read where it arrived, in the stream's chunks (a 4 MiB one spans ~64 decrypted Noise
 * frames): it used to be joined into one new buffer first, 4 MiB to allocate and copy per message a peer
 * chose to send (round eleven, hostile13). Only a CID that straddles two chunks is copied, and it is short:
 * a CID field longer than MAX_WANT_CID_BYTES names no want.
 */
import { BadMessageError } from './receive.js'

/** The CIDv0 form: a bare sha2-256 multihash (0x12, 32 bytes). */
const V0_LENGTH = 34
/**
 * The longest CID a want may name: kubo refuses identity digests over 128 bytes (verifcid), and every hash
 * Pinery serves is far shorter (sha2-512: 68 bytes with its prefixes). Longer ones are skipped unread: a want
 * kept holds its CID, so without a bound a peer that never reads held up to 4 MiB per want, 4,096 of them.
 */
export const MAX_WANT_CID_BYTES = 256
const EMPTY: Uint8Array = new Uint8Array(0)

/** One received wantlist; `next()` moves to the following entry and fills `cancel`, `have`, `sendDontHave`. */
export class WantlistReader {
  /** The wantlist's `full` flag (the last one given, as protobuf reads a repeated scalar). */
  readonly full: boolean
  /** Entries the wantlist holds. */
  readonly count: number
  /** The entry's fields, as message.proto's WantlistEntry (false and Block when absent). */
  cancel = false
  have = false
  sendDontHave = false
  private readonly pieces: Uint8Array[]
  private readonly length: number
  /** The piece being read, its index, the offset in it, and its start in the wantlist. */
  private piece: Uint8Array = EMPTY
  private index = -1
  private pos = 0
  private base = 0
  /** The entry's CID: in `cidBytes` from `cidStart` to `cidEnd` (a piece, or a copy when it straddles two). */
  private cidBytes: Uint8Array = EMPTY
  private cidStart = 0
  private cidEnd = 0
  private readonly texts = new Map<Uint8Array, Buffer>()

  /**
   * Checks the wantlist's framing (every entry within the bytes, known fields of the right wire type)
   * and counts its entries; more than `maxEntries` is refused, as protons' `limits` did. `wantlist` is its
   * bytes, or the views of the chunks they arrived in (read there, not joined).
   */
  constructor (wantlist: Uint8Array | Uint8Array[], maxEntries: number) {
    this.pieces = Array.isArray(wantlist) ? wantlist : [wantlist]
    this.length = this.pieces.reduce((n, p) => n + p.byteLength, 0)
    this.rewind()
    let full = false
    let count = 0
    while (this.at() < this.length) {
      const tag = this.varint()
      if (tag === 0x0a) {
        if (++count > maxEntries) throw new BadMessageError(`more than ${maxEntries} wantlist entries`)
        this.skipBytes(this.varint())
      } else if (tag === 0x10) {
        full = this.varint() !== 0
      } else {
        if (tag >>> 3 === 1 || tag >>> 3 === 2) throw new BadMessageError(`wantlist field ${tag >>> 3} of wrong type`)
        this.skip(tag & 7)
      }
    }
    this.full = full
    this.count = count
    this.rewind()
  }

  /** Reads the next entry into this reader's fields; false when there is none. */
  next (): boolean {
    while (this.at() < this.length) {
      const tag = this.varint()
      if (tag !== 0x0a) { this.skip(tag & 7); continue }
      const length = this.varint()
      const end = this.at() + length
      this.cidBytes = EMPTY
      this.cidStart = this.cidEnd = 0
      this.cancel = this.have = this.sendDontHave = false
      while (this.at() < end) {
        const field = this.varint()
        if (field === 0x0a) {
          this.readCid(this.varint())
        } else if (field === 0x18) {
          this.cancel = this.varint() !== 0
        } else if (field === 0x20) {
          const type = this.varint()
          if (type > 1) throw new BadMessageError(`want type ${type}`)
          this.have = type === 1
        } else if (field === 0x28) {
          this.sendDontHave = this.varint() !== 0
        } else if (field === 0x10) {
          this.varint()
        } else {
          if (field >= 8 && field >>> 3 <= 5) throw new BadMessageError(`entry field ${field >>> 3} of wrong type`)
          this.skip(field & 7)
        }
        if (this.at() > end) throw new BadMessageError('wantlist entry field runs past the entry')
      }
      return true
    }
    return false
  }

  /**
   * The want key (wire.ts wantKey: the multihash in base64) of the entry's CID, read from its bytes;
   * undefined when they are no CIDv0 or CIDv1 with a whole multihash.
   */
  key (): string | undefined {
    const { cidBytes: bytes, cidStart: start, cidEnd: end } = this
    if (end - start === V0_LENGTH && bytes[start] === 0x12 && bytes[start + 1] === 0x20) {
      return this.text(bytes).toString('base64', start, end)
    }
    if (end - start < 4 || bytes[start] !== 1) return undefined
    const at = skipVarint(bytes, start + 1, end) // past the codec: the multihash
    let p = skipVarint(bytes, at, end) // past the hash code
    if (p < 0) return undefined
    let length = 0
    for (let shift = 0; p < end && shift < 35; shift += 7) {
      const b = bytes[p++] as number
      length += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return p + length === end ? this.text(bytes).toString('base64', at, end) : undefined
    }
    return undefined
  }

  /** The entry's CID bytes, copied (a kept want must not hold the whole message's buffer). */
  cid (): Uint8Array {
    return this.cidBytes.slice(this.cidStart, this.cidEnd)
  }

  /** Where the CID field of `n` bytes at the cursor lies; past MAX_WANT_CID_BYTES it is skipped as none. */
  private readCid (n: number): void {
    if (n > MAX_WANT_CID_BYTES) {
      this.skipBytes(n)
    } else if (n <= this.piece.byteLength - this.pos) {
      this.cidBytes = this.piece
      this.cidStart = this.pos
      this.cidEnd = this.pos + n
      this.pos += n
    } else {
      if (n > this.length - this.at()) throw new BadMessageError('wantlist field runs past its end')
      const copy = new Uint8Array(n)
      for (let i = 0; i < n; i++) copy[i] = this.byte()
      this.cidBytes = copy
      this.cidStart = 0
      this.cidEnd = n
    }
  }

  /** A Buffer over the bytes of `bytes`' piece, for base64 without a copy (one per piece). */
  private text (bytes: Uint8Array): Buffer {
    let text = this.texts.get(bytes)
    if (text == null) {
      text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      this.texts.set(bytes, text)
    }
    return text
  }

  private rewind (): void {
    this.piece = this.pieces[0] ?? EMPTY
    this.index = 0
    this.pos = 0
    this.base = 0
  }

  /** The offset in the wantlist. */
  private at (): number {
    return this.base + this.pos
  }

  private byte (): number {
    while (this.pos >= this.piece.byteLength) {
      const next = this.pieces[this.index + 1]
      if (next == null) throw new BadMessageError('wantlist ends inside a varint')
      this.base += this.piece.byteLength
      this.piece = next
      this.index++
      this.pos = 0
    }
    return this.piece[this.pos++] as number
  }

  private varint (): number {
    // Most varints here are one byte (tags, small lengths) and lie inside the piece: read them straight.
    const piece = this.piece
    const pos = this.pos
    if (pos < piece.byteLength) {
      const b = piece[pos] as number
      if (b < 0x80) { this.pos = pos + 1; return b }
    }
    let value = 0
    for (let i = 0; i < 10; i++) {
      const b = this.byte()
      // Tags and lengths fit in 35 bits; higher bits (negative int32 priorities) are not needed.
      if (i < 8) value += (b & 0x7f) * 2 ** (7 * i)
      if ((b & 0x80) === 0) return value
    }
    throw new BadMessageError('varint longer than 10 bytes')
  }

  private skipBytes (n: number): void {
    if (n > this.length - this.at()) throw new BadMessageError('wantlist field runs past its end')
    this.pos += n
    while (this.pos > this.piece.byteLength) {
      this.pos -= this.piece.byteLength
      this.base += this.piece.byteLength
      this.piece = this.pieces[++this.index] as Uint8Array
    }
  }

  private skip (wireType: number): void {
    if (wireType === 0) this.varint()
    else if (wireType === 1) this.skipBytes(8)
    else if (wireType === 2) this.skipBytes(this.varint())
    else if (wireType === 5) this.skipBytes(4)
    else throw new BadMessageError(`unsupported protobuf wire type ${wireType}`)
  }
}

/** The offset after the varint at `at` (before `end`), or -1 past the end or after 5 bytes. */
function skipVarint (bytes: Uint8Array, at: number, end: number): number {
  if (at < 0) return -1
  for (let i = 0; i < 5 && at < end; i++) if (((bytes[at++] as number) & 0x80) === 0) return at
  return -1
}
