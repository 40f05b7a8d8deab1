/**
 * The blocks a CAR upload stored, kept on disk while a request it made waits for the rest of its DAG:
 * they may exist nowhere else (the user sent them), and blocks below a node the CAR lacked cannot be
 * reached from the root through stored blocks, so after a restart only this list protects them from
 * the first sweep. The one owner of these keys:
 *
 *   /pinery/upload/<upload id>/<chunk, 6 digits>   → the blocks' multihashes, one after another
 *
 * A request names its upload (`PinRecord.upload`) while it is pending; a list no pending request
 * names is garbage, dropped when its last request settles or at the next start.
 *
 * Also the requests of an upload not answered yet, so that a CAR's requests (one per root) are made all or
 * none across a kill:
 *
 *   /pinery/upload-open/<upload id>/<requestid>    → the request's owner
 *
 * Each key rides in its request's creation batch; `close` deletes them all (fsynced) before the answer.
 * Keys left by a kill name requests no client was told of (a retry would make them again): the start
 * removes those requests (content/service.ts).
 */
import { randomUUID } from 'node:crypto'
import { varint } from 'multiformats'
import type { Level } from 'level'
import type { ExtraOp } from './record-store.js'

const PREFIX = '/pinery/upload/'
// Outside PREFIX's range ('-' sorts before '/'), so `ids` never sees these keys.
const OPEN_PREFIX = '/pinery/upload-open/'
/**
 * Multihashes per key: ~140 KB values (sha2-256), so a list of 100k blocks is 25 puts of ~3.4 MB in
 * all, written in one batch, and one key is never a value LevelDB must hold whole in its memtable.
 */
const CHUNK = 4096

/** Upload block lists in LevelDB. */
export interface UploadBlocks {
  /**
   * Stores the list of a new upload (the guard's block keys: base64 multihashes) and returns its id.
   * Unsynced: it must only land no later than the first record naming it, and that write is fsynced
   * in the same append-only log.
   */
  save(keys: Iterable<string>, id?: string): Promise<string>
  /** The block keys (as `save` took them) of upload `id`; none when it is gone. */
  read(id: string): Promise<string[]>
  /** Drops the list of upload `id`. */
  forget(id: string): Promise<void>
  /** The id of every list stored. */
  ids(): AsyncGenerator<string>
  /** The put naming request `requestid` of `owner` under upload `id`: for the request's creation batch. */
  opening(id: string, owner: string, requestid: string): ExtraOp
  /** The requests named under upload `id` and not closed. */
  opened(id: string): Promise<OpenRequest[]>
  /** Every upload not closed, with its requests (at start: uploads a kill cut short). */
  unclosed(): AsyncGenerator<{ id: string, requests: OpenRequest[] }>
  /** Closes upload `id`: its requests are the client's now. Fsynced, as the answer that follows relies on it. */
  close(id: string): Promise<void>
}

/** A request of an upload not closed yet. */
export interface OpenRequest { owner: string, requestid: string }

/** Where the lists are stored. */
export interface UploadBlocksComponents {
  db: Pick<Level<string, Uint8Array>, 'batch' | 'values' | 'keys' | 'iterator'>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const openRange = (id: string): { gt: string, lt: string } =>
  ({ gt: `${OPEN_PREFIX}${id}/`, lt: `${OPEN_PREFIX}${id}/\xff` })
const openRequest = (key: string, value: Uint8Array): OpenRequest =>
  ({ owner: decoder.decode(value), requestid: key.slice(key.lastIndexOf('/') + 1) })
const chunkKey = (id: string, n: number): string => `${PREFIX}${id}/${n.toString().padStart(6, '0')}`

/** Creates the store of upload block lists. */
export function createUploadBlocks (components: UploadBlocksComponents): UploadBlocks {
  const { db } = components
  const range = (id: string): { gt: string, lt: string } => ({ gt: `${PREFIX}${id}/`, lt: `${PREFIX}${id}/\xff` })

  return {
    async save (keys, id = randomUUID()) {
      const ops: Array<{ type: 'put', key: string, value: Uint8Array }> = []
      let parts: string[] = []
      // Decoded straight into the chunk's buffer: a Buffer per key first cost ~15 MiB more peak RSS for
      // 100k blocks (bench:upload-blocks --incomplete).
      const flush = (): void => {
        const value = Buffer.allocUnsafe(parts.reduce((n, key) => n + Buffer.byteLength(key, 'base64'), 0))
        let at = 0
        for (const key of parts) at += value.write(key, at, 'base64')
        ops.push({ type: 'put', key: chunkKey(id, ops.length), value })
        parts = []
      }
      for (const key of keys) {
        parts.push(key)
        if (parts.length >= CHUNK) flush()
      }
      if (parts.length > 0 || ops.length === 0) flush()
      await db.batch(ops)
      return id
    },

    async read (id) {
      const keys: string[] = []
      for await (const value of db.values(range(id))) {
        const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
        // A multihash: its code and digest length as varints, then the digest.
        for (let at = 0; at < bytes.length;) {
          const [, codeBytes] = varint.decode(bytes, at)
          const [length, lengthBytes] = varint.decode(bytes, at + codeBytes)
          const end = at + codeBytes + lengthBytes + length
          keys.push(bytes.toString('base64', at, end))
          at = end
        }
      }
      return keys
    },

    async forget (id) {
      const ops: Array<{ type: 'del', key: string }> = []
      for await (const key of db.keys(range(id))) ops.push({ type: 'del', key })
      if (ops.length > 0) await db.batch(ops)
    },

    async * ids () {
      let last: string | undefined
      for await (const key of db.keys({ gt: PREFIX, lt: `${PREFIX}\xff` })) {
        const id = key.slice(PREFIX.length, key.indexOf('/', PREFIX.length))
        if (id !== last) yield id
        last = id
      }
    },

    opening (id, owner, requestid) {
      return { type: 'put', key: `${OPEN_PREFIX}${id}/${requestid}`, value: encoder.encode(owner) }
    },

    async opened (id) {
      const requests: OpenRequest[] = []
      for await (const [key, value] of db.iterator(openRange(id))) requests.push(openRequest(key, value))
      return requests
    },

    async * unclosed () {
      let open: { id: string, requests: OpenRequest[] } | undefined
      for await (const [key, value] of db.iterator({ gt: OPEN_PREFIX, lt: `${OPEN_PREFIX}\xff` })) {
        const id = key.slice(OPEN_PREFIX.length, key.indexOf('/', OPEN_PREFIX.length))
        if (open != null && open.id !== id) yield open
        if (open?.id !== id) open = { id, requests: [] }
        open.requests.push(openRequest(key, value))
      }
      if (open != null) yield open
    },

    async close (id) {
      const ops: Array<{ type: 'del', key: string }> = []
      for await (const key of db.keys(openRange(id))) ops.push({ type: 'del', key })
      if (ops.length > 0) await db.batch(ops, { sync: true })
    }
  }
}
