/**
 * A fetched block's bytes as they arrived: one buffer, or the pieces of the stream's chunks it
 * spans, in order (the lean bitswap hands received blocks on without joining them). Joining a
 * 256 KiB block spread over four ~64 KiB chunks cost a fresh buffer per block, and with it
 * external memory that V8 collects with full mark-compacts (scripts/bench/RESULTS.md, round four,
 * "Receive path without copies"); written to a file with one writev, pieces need no joining.
 */
import { createHash } from 'node:crypto'

/** Node's names of the multihash functions a block's CID may name and Pinery can check (identity, 0x00, needs none). */
const HASHES = new Map<number, string>([[0x12, 'sha256'], [0x13, 'sha512']])

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

/**
 * The `length`-byte multihash digest (function `code`) of a block's bytes, hashed piece by piece;
 * undefined for a function not known here, or a length it cannot give. One implementation for every
 * check of bytes against a CID: blocks received over bitswap, and blocks found on disk.
 */
export function blockDigest (code: number, length: number, bytes: BlockBytes): Uint8Array | undefined {
  if (code === 0x00) return blockSize(bytes) === length ? joinBlock(bytes) : undefined
  const name = HASHES.get(code)
  if (name == null) return undefined
  const hasher = createHash(name)
  if (bytes instanceof Uint8Array) hasher.update(bytes)
  else for (const piece of bytes) hasher.update(piece)
  const digest = hasher.digest()
  return length > digest.byteLength ? undefined : digest.subarray(0, length)
}
