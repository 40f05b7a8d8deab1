/**
 * Reading received bitswap messages without copying their blocks. A message spreads over the
 * stream's chunks (a ~1 MiB message over ~16 decrypted Noise frames); it used to be copied into one
 * buffer once complete, and protons then decoded it. Here the framing collects a message's chunks as
 * views and the top-level Message and its Blocks are decoded by hand across them: each block's data
 * stays a list of views of the chunks it arrived in, hashed piece by piece and written with one
 * writev. Only CID prefixes are joined; the wantlist is read entry by entry where it lies
 * (wantlist-reader.ts), presences are skipped.
 * Measured in scripts/bench/RESULTS.md (round four, "Receive path without copies"): 256 MiB less
 * to allocate per 256 MiB received, and with it fewer of the full garbage collections that external
 * memory starts.
 */

/** A message over the size limit, a bad length prefix or a broken protobuf: the stream is reset. */
export class BadMessageError extends Error {
  static override name = 'BadMessageError'
  override name = BadMessageError.name
}

/** What one received message holds that the receiver acts on. */
export interface ReceivedMessage {
  /**
   * The Wantlist's bytes as views of the chunks they arrived in (not joined: wantlist-reader.ts), read by the
   * ledger through a WantlistReader (only as far as it needs).
   */
  wantlist?: Uint8Array[]
  /** Blocks with the prefix that names their CID (none for bitswap 1.0.0's `blocks` field), data as pieces. */
  blocks: Array<{ prefix?: Uint8Array, data: Uint8Array[] }>
}

/** Decoding limits, as protons' `limits` for the generated codec (wantlist entries: WantlistReader). */
export interface ReceiveLimits { blocks: number, presences: number }

/** Feeds a stream's chunks in; `held()` is what it keeps of a message not complete yet (bytes). */
export type PieceReader = ((chunk: Uint8Array) => void) & { held(): number }

/**
 * Splits a stream's bytes into length-prefixed messages of at most `maxBytes`, each handed on as the
 * views of the chunks it spans (no copy). Nothing is allocated from the announced length alone: a
 * peer that announces 4 MiB and sends 3 bytes holds 3 bytes.
 */
export function createPieceReader (
  maxBytes: number, onMessage: (pieces: Uint8Array[], length: number) => void
): PieceReader {
  let length = 0
  let shift = 0
  let wanted = -1
  let pieces: Uint8Array[] = []
  let filled = 0
  const read = (chunk: Uint8Array): void => {
    let pos = 0
    while (pos < chunk.byteLength) {
      if (wanted < 0) {
        const b = chunk[pos++] as number
        length += (b & 0x7f) * 2 ** shift
        shift += 7
        if ((b & 0x80) !== 0) {
          if (shift > 28) throw new BadMessageError('message length prefix too long')
          continue
        }
        wanted = length
        length = 0
        shift = 0
        if (wanted > maxBytes) {
          throw new BadMessageError(`message of ${wanted} bytes is over the ${maxBytes} byte limit`)
        }
        pieces = []
        filled = 0
        if (wanted === 0) { wanted = -1; onMessage([], 0); continue }
      }
      const n = Math.min(wanted - filled, chunk.byteLength - pos)
      if (n > 0) pieces.push(chunk.subarray(pos, pos + n))
      filled += n
      pos += n
      if (filled === wanted) {
        const whole = pieces
        wanted = -1
        pieces = []
        onMessage(whole, filled)
      }
    }
  }
  return Object.assign(read, { held: () => wanted < 0 ? 0 : filled })
}

/**
 * The same framing, each message in one buffer: a view when it arrived in one chunk, else joined
 * (for peers that decode with protons, as tests' raw peers do).
 */
export function createMessageReader (
  maxBytes: number, onMessage: (bytes: Uint8Array) => void
): (chunk: Uint8Array) => void {
  return createPieceReader(maxBytes, (pieces, length) => {
    if (pieces.length === 1) { onMessage(pieces[0] as Uint8Array); return }
    const whole = new Uint8Array(length)
    let at = 0
    for (const p of pieces) { whole.set(p, at); at += p.byteLength }
    onMessage(whole)
  })
}

/** Reads protobuf fields across a message's pieces. */
class Cursor {
  private piece = 0
  private offset = 0
  pos = 0

  constructor (private readonly pieces: Uint8Array[], readonly end: number) {}

  private current (): Uint8Array {
    for (;;) {
      const p = this.pieces[this.piece]
      if (p == null) throw new BadMessageError('message ends inside a field')
      if (this.offset < p.byteLength) return p
      this.piece++
      this.offset = 0
    }
  }

  varint (): number {
    let value = 0
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new BadMessageError('message ends inside a varint')
      const b = this.current()[this.offset++] as number
      this.pos++
      // Lengths and tags fit in 35 bits; bits past 2^56 (negative int32s) are dropped.
      if (i < 8) value += (b & 0x7f) * 2 ** (7 * i)
      if ((b & 0x80) === 0) return value
    }
    throw new BadMessageError('varint longer than 10 bytes')
  }

  /** The next `n` bytes as views of the pieces they lie in. */
  take (n: number): Uint8Array[] {
    if (n > this.end - this.pos) throw new BadMessageError('field runs past the end of the message')
    const out: Uint8Array[] = []
    for (let left = n; left > 0;) {
      const p = this.current()
      const k = Math.min(left, p.byteLength - this.offset)
      out.push(p.subarray(this.offset, this.offset + k))
      this.offset += k
      left -= k
    }
    this.pos += n
    return out
  }

  /** The next `n` bytes in one buffer: a view when they lie in one piece, else a copy (small fields only). */
  bytes (n: number): Uint8Array {
    const parts = this.take(n)
    if (parts.length === 1) return parts[0] as Uint8Array
    const out = new Uint8Array(n)
    let at = 0
    for (const p of parts) { out.set(p, at); at += p.byteLength }
    return out
  }

  skip (wireType: number): void {
    if (wireType === 0) this.varint()
    else if (wireType === 1) this.take(8)
    else if (wireType === 2) this.take(this.varint())
    else if (wireType === 5) this.take(4)
    else throw new BadMessageError(`unsupported protobuf wire type ${wireType}`)
  }
}

/** Decodes a received Message (message.proto) from its pieces; block data stays in pieces. */
export function decodeReceived (pieces: Uint8Array[], length: number, limits: ReceiveLimits): ReceivedMessage {
  const c = new Cursor(pieces, length)
  const out: ReceivedMessage = { blocks: [] }
  let presences = 0
  while (c.pos < c.end) {
    const tag = c.varint()
    const field = tag >>> 3
    const wireType = tag & 7
    if (field >= 1 && field <= 4 && wireType !== 2) throw new BadMessageError(`field ${field} is not length-delimited`)
    if (field === 1) {
      out.wantlist = c.take(c.varint())
    } else if (field === 2) {
      if (out.blocks.length === limits.blocks) throw new BadMessageError('too many blocks in one message')
      out.blocks.push({ data: c.take(c.varint()) })
    } else if (field === 3) {
      if (out.blocks.length === limits.blocks) throw new BadMessageError('too many blocks in one message')
      const n = c.varint()
      out.blocks.push(decodeBlock(c, c.pos + n))
    } else if (field === 4) {
      // Presences are not acted on (wants are re-sent by the walker's timer): counted and skipped. Decoding
      // each (protons) cost as much as wantlist entries did: a flood of 4 MiB of them, ~80 ms a message.
      if (++presences > limits.presences) throw new BadMessageError('too many block presences in one message')
      c.skip(wireType)
    } else {
      c.skip(wireType)
    }
  }
  return out
}

function decodeBlock (c: Cursor, end: number): { prefix: Uint8Array, data: Uint8Array[] } {
  if (end > c.end) throw new BadMessageError('block runs past the end of the message')
  let prefix: Uint8Array = new Uint8Array(0)
  let data: Uint8Array[] = []
  while (c.pos < end) {
    const tag = c.varint()
    const field = tag >>> 3
    const wireType = tag & 7
    if ((field === 1 || field === 2) && wireType !== 2) throw new BadMessageError(`block field ${field} is not bytes`)
    if (field === 1) prefix = c.bytes(c.varint())
    else if (field === 2) data = c.take(c.varint())
    else c.skip(wireType)
    if (c.pos > end) throw new BadMessageError('block field runs past the end of the block')
  }
  return { prefix, data }
}
