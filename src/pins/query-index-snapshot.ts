/**
 * The pin index saved to one file at clean shutdown, so a restart loads it in
 * a fraction of a second instead of decoding every record. The file is only
 * trusted when it provably matches the records: it carries the records'
 * generation (the data dir's random id and the write sequence number that
 * every record batch advances, see record-store.ts) plus the stored clock and
 * datastore format, and a SHA-256 of its whole content. Any difference (a
 * write after the snapshot, a crash, a truncated or corrupted file, a file
 * from another data dir) makes `read` return undefined and the index is
 * rebuilt from the records, so an answer is never taken from a stale index.
 *
 * Layout: "PINERYIX", u32 version, u32 header length, the header (JSON:
 * generation, interned tables, per-owner small state), then each owner's
 * columns (created f64, status u8, cid/name/meta i32, request IDs 16 bytes
 * each), then the SHA-256 of everything before it.
 */
import { createHash, type Hash } from 'node:crypto'
import { open, rename, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from '../logger.js'
import type { ColumnsDump } from './owner-columns.js'
import type { IndexDump } from './query-index.js'

/** What ties a snapshot to the records it was taken from. */
export interface Generation {
  /** Random id of the data dir's record store. */
  id: string
  /** Write sequence number: advanced by every record batch. */
  seq: number
  /** The stored clock and datastore format, as stored (raw text). */
  clock: string
  format: string
}

/** Reads and writes the index snapshot file. */
export interface IndexSnapshot {
  /** The saved index if the file is intact and matches `generation`; otherwise undefined (rebuild). */
  read(generation: Generation): Promise<IndexDump | undefined>
  /** Saves `dump` atomically (temporary file, fsync, rename, fsync of the directory). */
  write(dump: IndexDump, generation: Generation): Promise<void>
}

/** Where the snapshot lives. */
export interface IndexSnapshotInit {
  path: string
}

/** What the snapshot needs. */
export interface IndexSnapshotComponents {
  logger: Logger
}

const MAGIC = Buffer.from('PINERYIX')
const VERSION = 1
const HASH_BYTES = 32
/** created f64, status u8, cid/name/meta i32, request ID 16 bytes. */
const BYTES_PER_RECORD = 8 + 1 + 4 * 3 + 16
type Columns = Pick<ColumnsDump, 'created' | 'status' | 'cid' | 'name' | 'meta' | 'ids'>
const COLUMNS = ['created', 'status', 'cid', 'name', 'meta', 'ids'] as const

function bytesOf (view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength)
}

/** Thrown when the file is not a whole, intact snapshot. */
class Unusable extends Error {}

/** Reads `into.byteLength` bytes at `position`, hashing them; a short file is unusable. */
async function readFully (file: FileHandle, into: ArrayBufferView, position: number, hash: Hash): Promise<void> {
  const bytes = bytesOf(into)
  let done = 0
  while (done < bytes.length) {
    const { bytesRead } = await file.read(bytes, done, bytes.length - done, position + done)
    if (bytesRead === 0) throw new Unusable('truncated')
    done += bytesRead
  }
  hash.update(bytes)
}

/** Creates the snapshot store for one file. */
export function createIndexSnapshot (init: IndexSnapshotInit, components: IndexSnapshotComponents): IndexSnapshot {
  const log = components.logger.child({ component: 'index-snapshot' })
  const { path } = init

  /** Reads the file column by column into the typed arrays the index keeps (no copy of the whole file). */
  async function parse (file: FileHandle, generation: Generation): Promise<IndexDump> {
    const size = (await file.stat()).size
    const hash = createHash('sha256')
    const head = Buffer.alloc(MAGIC.length + 8)
    await readFully(file, head, 0, hash)
    if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw new Unusable('not a snapshot')
    if (head.readUInt32LE(MAGIC.length) !== VERSION) throw new Unusable('unknown version')
    const headerBytes = Buffer.alloc(head.readUInt32LE(MAGIC.length + 4))
    if (head.length + headerBytes.length + HASH_BYTES > size) throw new Unusable('truncated')
    await readFully(file, headerBytes, head.length, hash)
    const header = JSON.parse(headerBytes.toString('utf8')) as Omit<IndexDump, 'owners'> & {
      generation: Generation
      owners: Array<{ owner: string, columns: Omit<ColumnsDump, keyof Columns> }>
    }
    const g = header.generation
    const same = g.id === generation.id && g.seq === generation.seq &&
      g.clock === generation.clock && g.format === generation.format
    if (!same) {
      throw new Unusable('records changed since it was written')
    }
    let at = head.length + headerBytes.length
    const expected = at + header.owners.reduce((sum, o) => sum + o.columns.length * BYTES_PER_RECORD, 0) + HASH_BYTES
    if (expected !== size) throw new Unusable('wrong length')
    const owners: IndexDump['owners'] = []
    for (const { owner, columns } of header.owners) {
      const n = columns.length
      const cols: Columns = {
        created: new Float64Array(n),
        status: new Uint8Array(n),
        cid: new Int32Array(n),
        name: new Int32Array(n),
        meta: new Int32Array(n),
        ids: new Uint8Array(n * 16)
      }
      for (const name of COLUMNS) { await readFully(file, cols[name], at, hash); at += cols[name].byteLength }
      owners.push({ owner, columns: { ...columns, ...cols } })
    }
    const digest = Buffer.alloc(HASH_BYTES)
    await readFully(file, digest, at, createHash('sha256'))
    if (!hash.digest().equals(digest)) throw new Unusable('checksum mismatch')
    return { total: header.total, cids: header.cids, names: header.names, metas: header.metas, owners }
  }

  return {
    async read (generation) {
      const file = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined
        throw err
      })
      if (file == null) return undefined
      try {
        return await parse(file, generation)
      } catch (err) {
        // Whatever is wrong with the file (damage, a read error), the records are the truth.
        const reason = err instanceof Unusable ? err.message : `unreadable: ${(err as Error).message}`
        log.info({ reason }, 'index snapshot not used; rebuilding the index from the records')
        return undefined
      } finally {
        await file.close()
      }
    },

    async write (dump, generation) {
      const owners = dump.owners.map(({ owner, columns }) => {
        const { created, status, cid, name, meta, ids, ...small } = columns
        return { owner, columns: small }
      })
      const { total, cids, names, metas } = dump
      const header = Buffer.from(JSON.stringify({ generation, total, cids, names, metas, owners }))
      const head = Buffer.alloc(MAGIC.length + 8)
      MAGIC.copy(head)
      head.writeUInt32LE(VERSION, MAGIC.length)
      head.writeUInt32LE(header.length, MAGIC.length + 4)
      const parts: Buffer[] = [head, header]
      for (const { columns } of dump.owners) for (const name of COLUMNS) parts.push(bytesOf(columns[name]))
      const hash = createHash('sha256')
      for (const part of parts) hash.update(part)
      parts.push(hash.digest())

      const tmp = `${path}.tmp`
      const file = await open(tmp, 'w', 0o600)
      try {
        await file.writeFile(parts)
        await file.sync()
      } finally {
        await file.close()
      }
      await rename(tmp, path)
      const dir = await open(dirname(path), 'r')
      try { await dir.sync() } finally { await dir.close() }
    }
  }
}
