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
 */
import { BadMessageError } from './receive.js'

/** The CIDv0 form: a bare sha2-256 multihash (0x12, 32 bytes). */
const V0_LENGTH = 34

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
  private pos = 0
  private cidStart = 0
  private cidEnd = 0
  private readonly text: Buffer

  /**
   * Checks the wantlist's framing (every entry within the bytes, known fields of the right wire type)
   * and counts its entries; more than `maxEntries` is refused, as protons' `limits` did.
   */
  constructor (private readonly bytes: Uint8Array, maxEntries: number) {
    this.text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    let full = false
    let count = 0
    while (this.pos < bytes.byteLength) {
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
    this.pos = 0
  }

  /** Reads the next entry into this reader's fields; false when there is none. */
  next (): boolean {
    const bytes = this.bytes
    while (this.pos < bytes.byteLength) {
      const tag = this.varint()
      if (tag !== 0x0a) { this.skip(tag & 7); continue }
      const length = this.varint()
      const end = this.pos + length
      this.cidStart = this.cidEnd = 0
      this.cancel = this.have = this.sendDontHave = false
      while (this.pos < end) {
        const field = this.varint()
        if (field === 0x0a) {
          const n = this.varint()
          this.cidStart = this.pos
          this.skipBytes(n)
          this.cidEnd = this.pos
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
        if (this.pos > end) throw new BadMessageError('wantlist entry field runs past the entry')
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
    const { bytes, cidStart: start, cidEnd: end } = this
    if (end - start === V0_LENGTH && bytes[start] === 0x12 && bytes[start + 1] === 0x20) {
      return this.text.toString('base64', start, end)
    }
    if (end - start < 4 || bytes[start] !== 1) return undefined
    const at = skipVarint(bytes, start + 1, end) // past the codec: the multihash
    let p = skipVarint(bytes, at, end) // past the hash code
    if (p < 0) return undefined
    let length = 0
    for (let shift = 0; p < end && shift < 35; shift += 7) {
      const b = bytes[p++] as number
      length += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return p + length === end ? this.text.toString('base64', at, end) : undefined
    }
    return undefined
  }

  /** The entry's CID bytes, copied (a kept want must not hold the whole message's buffer). */
  cid (): Uint8Array {
    return this.bytes.slice(this.cidStart, this.cidEnd)
  }

  private varint (): number {
    const bytes = this.bytes
    let value = 0
    for (let i = 0; i < 10; i++) {
      if (this.pos >= bytes.byteLength) throw new BadMessageError('wantlist ends inside a varint')
      const b = bytes[this.pos++] as number
      // Tags and lengths fit in 35 bits; higher bits (negative int32 priorities) are not needed.
      if (i < 8) value += (b & 0x7f) * 2 ** (7 * i)
      if ((b & 0x80) === 0) return value
    }
    throw new BadMessageError('varint longer than 10 bytes')
  }

  private skipBytes (n: number): void {
    if (n > this.bytes.byteLength - this.pos) throw new BadMessageError('wantlist field runs past its end')
    this.pos += n
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
