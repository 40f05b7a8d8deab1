/**
 * A fetched block's bytes as they arrived: one buffer, or the pieces of the stream's chunks it
 * spans, in order (the lean bitswap hands received blocks on without joining them). Joining a
 * 256 KiB block spread over four ~64 KiB chunks cost a fresh buffer per block, and with it
 * external memory that V8 collects with full mark-compacts (scripts/bench/RESULTS.md, round four,
 * "Receive path without copies"); written to a file with one writev, pieces need no joining.
 */

/** A block's bytes: contiguous, or pieces in order. */
export type BlockBytes = Uint8Array | readonly Uint8Array[]

/** The block's length in bytes. */
export function blockSize (bytes: BlockBytes): number {
  if (bytes instanceof Uint8Array) return bytes.byteLength
  let n = 0
  for (const piece of bytes) n += piece.byteLength
  return n
}

/** The block as one buffer: itself, its only piece, or the pieces copied into a new buffer. */
export function joinBlock (bytes: BlockBytes): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes
  if (bytes.length === 1) return bytes[0] as Uint8Array
  const out = new Uint8Array(blockSize(bytes))
  let at = 0
  for (const piece of bytes) { out.set(piece, at); at += piece.byteLength }
  return out
}
