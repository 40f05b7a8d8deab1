/**
 * The backup archive's layout, shared by the writer and the restore so the format has one owner. A backup is a
 * plain tar (`tar tf` lists it):
 * - `pinery-backup.json` first: the format and when and by which version it was made;
 * - `datastore/NNNNNN.kv`: every LevelDB key and value as of one snapshot, framed as
 *   [u32 BE key length][key][u32 BE value length][value], in chunks of about CHUNK_BYTES;
 * - `blocks/<CID>`: each stored block, named by the CID the blockstore lists it under (v1, raw codec);
 * - `pinery-backup-end.json` last: the counts, so a restore can tell a whole archive from a cut one.
 */

/** The first entry's name. */
export const MANIFEST = 'pinery-backup.json'
/** The last entry's name. */
export const TRAILER = 'pinery-backup-end.json'
/** Where datastore chunks live in the archive. */
export const DATASTORE_DIR = 'datastore/'
/** Where block files live in the archive. */
export const BLOCKS_DIR = 'blocks/'
/** The archive format this build writes and reads. */
export const BACKUP_FORMAT = 1
/** A datastore chunk is cut once it holds this much. */
export const CHUNK_BYTES = 4 * 1024 * 1024

/** What the first entry says. */
export interface BackupManifest {
  format: number
  createdAt: string
  pineryVersion: string
}

/** What the last entry says: what the archive holds. */
export interface BackupTrailer {
  keys: number
  blocks: number
  blockBytes: number
}

/** The name of the `n`th datastore chunk. */
export function chunkName (n: number): string {
  return `${DATASTORE_DIR}${String(n).padStart(6, '0')}.kv`
}

/** Collects key/value frames into chunks of about CHUNK_BYTES. */
export class KvChunker {
  private parts: Buffer[] = []
  private size = 0

  /** Adds one pair; returns a finished chunk when this one filled it. */
  add (key: Uint8Array, value: Uint8Array): Buffer | undefined {
    const head = Buffer.allocUnsafe(4)
    head.writeUInt32BE(key.byteLength)
    const mid = Buffer.allocUnsafe(4)
    mid.writeUInt32BE(value.byteLength)
    this.parts.push(head, Buffer.from(key), mid, Buffer.from(value))
    this.size += 8 + key.byteLength + value.byteLength
    return this.size >= CHUNK_BYTES ? this.flush() : undefined
  }

  /** The chunk so far, or undefined when empty. */
  flush (): Buffer | undefined {
    if (this.size === 0) return undefined
    const chunk = Buffer.concat(this.parts, this.size)
    this.parts = []
    this.size = 0
    return chunk
  }
}

/** The pairs of one chunk; throws on a chunk that does not frame exactly. */
export function * decodeChunk (chunk: Buffer): Generator<[Buffer, Buffer]> {
  let at = 0
  const take = (): Buffer => {
    if (at + 4 > chunk.byteLength) throw new Error('a datastore chunk ends inside a frame')
    const length = chunk.readUInt32BE(at)
    if (at + 4 + length > chunk.byteLength) throw new Error('a datastore chunk ends inside a frame')
    const part = chunk.subarray(at + 4, at + 4 + length)
    at += 4 + length
    return part
  }
  while (at < chunk.byteLength) yield [take(), take()]
}
