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
import { createHash } from 'node:crypto'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from '../logger.js'
import type { ColumnsDump } from './owner-columns.js'
import type { IndexDump } from './pin-index.js'

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
  /** Removes the file (a stale one should not linger). */
  discard(): Promise<void>
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
type Columns = Pick<ColumnsDump, 'created' | 'status' | 'cid' | 'name' | 'meta' | 'ids'>
const COLUMNS = ['created', 'status', 'cid', 'name', 'meta', 'ids'] as const

function bytesOf (view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength)
}

/** A typed array of `n` elements copied out of `buf` (copied: `buf` offsets need not be aligned). */
function column<A extends Float64Array | Uint8Array | Int32Array> (Kind: new (n: number) => A, buf: Buffer, at: number, n: number): A {
  const out = new Kind(n)
  bytesOf(out).set(buf.subarray(at, at + out.byteLength))
  return out
}

/** Creates the snapshot store for one file. */
export function createIndexSnapshot (init: IndexSnapshotInit, components: IndexSnapshotComponents): IndexSnapshot {
  const log = components.logger.child({ component: 'index-snapshot' })
  const { path } = init

  function parse (buf: Buffer, generation: Generation): IndexDump | string {
    if (buf.length < MAGIC.length + 8 + HASH_BYTES || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return 'not a snapshot'
    const body = buf.subarray(0, buf.length - HASH_BYTES)
    if (!createHash('sha256').update(body).digest().equals(buf.subarray(body.length))) return 'checksum mismatch'
    if (buf.readUInt32LE(MAGIC.length) !== VERSION) return 'unknown version'
    const headerLength = buf.readUInt32LE(MAGIC.length + 4)
    let at = MAGIC.length + 8
    const header = JSON.parse(buf.toString('utf8', at, at + headerLength)) as Omit<IndexDump, 'owners'> & {
      generation: Generation
      owners: Array<{ owner: string, columns: Omit<ColumnsDump, keyof Columns> }>
    }
    at += headerLength
    const g = header.generation
    if (g.id !== generation.id || g.seq !== generation.seq || g.clock !== generation.clock || g.format !== generation.format) {
      return 'records changed since it was written'
    }
    const owners = header.owners.map(({ owner, columns }) => {
      const n = columns.length
      const cols: Columns = {
        created: column(Float64Array, buf, at, n),
        status: column(Uint8Array, buf, at += n * 8, n),
        cid: column(Int32Array, buf, at += n, n),
        name: column(Int32Array, buf, at += n * 4, n),
        meta: column(Int32Array, buf, at += n * 4, n),
        ids: column(Uint8Array, buf, at += n * 4, n * 16)
      }
      at += n * 16
      return { owner, columns: { ...columns, ...cols } }
    })
    if (at !== body.length) return 'wrong length'
    return { total: header.total, cids: header.cids, names: header.names, metas: header.metas, owners }
  }

  return {
    async read (generation) {
      const buf = await readFile(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined
        throw err
      })
      if (buf == null) return undefined
      let result: IndexDump | string
      try {
        result = parse(buf, generation)
      } catch (err) {
        result = `unreadable: ${(err as Error).message}`
      }
      if (typeof result === 'string') {
        log.info({ reason: result }, 'index snapshot not used; rebuilding the index from the records')
        return undefined
      }
      return result
    },

    async write (dump, generation) {
      const owners = dump.owners.map(({ owner, columns }) => {
        const { created, status, cid, name, meta, ids, ...small } = columns
        return { owner, columns: small }
      })
      const header = Buffer.from(JSON.stringify({ generation, total: dump.total, cids: dump.cids, names: dump.names, metas: dump.metas, owners }))
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
    },

    async discard () {
      await rm(path, { force: true })
    }
  }
}
