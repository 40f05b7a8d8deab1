/**
 * Durable pin records in LevelDB. Every write is one atomic batch that keeps
 * the record and all of its index entries consistent:
 *
 *   /pinery/own/<owner>/<created>       → the record (JSON); per-user, ordered by created
 *   /pinery/req/<requestid>             → the record's own key
 *   /pinery/ref/<cidKey>/<requestid>    → a live request wants <cidKey> kept pinned
 *   /pinery/pending/<place>/<id>        → queued or pinning, in queue order (<place>: queuePlace, the record's
 *                                         `created` unless it took over a replaced request's place): the
 *                                         record (JSON) again, so resuming reads one compact key range (empty
 *                                         before 2026-11-30)
 *   /pinery/created/<created>           → the record's own key; finds the newest `created` at start
 *   /pinery/upload-ref/<upload>/<id>    → a pending request names the CAR upload <upload> (its blocks are kept)
 *   /pinery/clock                       → the last `created` handed out
 *   /pinery/generation                  → "<random id> <seq>": every batch advances seq
 *
 * The generation ties an index snapshot (query-index-snapshot.ts) to the records:
 * `close()` saves the index with the generation after the last write, and at
 * open the snapshot is used only if the stored generation is still the same;
 * any batch written since (even one whose process then crashed) changed it,
 * and the index is rebuilt from the records instead.
 *
 * Batches that acknowledge a client's intent (create, replace, delete) are
 * written with `sync: true`: on disk before the answer. Concurrent batches are
 * written together (group-commit.ts): one LevelDB write and one fsync for all
 * of them, each caller answered once its own batch is on disk. LevelDB's log is
 * append-only, so a synced batch also makes every earlier write durable.
 * So are the transitions to `pinned` and `failed`, which clients see and rely
 * on; only `queued` → `pinning` skips the fsync: losing it in a crash only
 * sends the request back a step, and it resumes.
 */
import { randomUUID } from 'node:crypto'
import { equals } from 'uint8arrays/equals'
import { createGroupCommit } from './group-commit.js'
import { decode, entries, PREFIX } from './record-keys.js'
import { readPending } from './pending-range.js'
import type { PinRecord } from './types.js'
import type { Generation, IndexSnapshot } from './query-index-snapshot.js'
import type { PinIndex } from './query-index.js'
import type { Level } from 'level'

/** A LevelDB put or del that rides along in a record's batch (an event, webhook deliveries). */
export type ExtraOp = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

/** How a record batch is written. */
export interface WriteOptions {
  /** false skips the fsync, for changes a crash may safely undo. */
  durable?: boolean
  /** Written in the same atomic batch: lands with the change or not at all. */
  extra?: ExtraOp[]
}

const CLOCK_KEY = `${PREFIX}clock`
const GENERATION_KEY = `${PREFIX}generation`
const FORMAT_KEY = `${PREFIX}format`
/** Operations one grouped write takes in (a single batch larger than this is written alone). */
const GROUP_MAX_OPS = 4096
/** Grouped writes in progress at once (see group-commit.ts for the measurement). */
const GROUP_MAX_WRITES = 4
const encoder = new TextEncoder()
const decoder = new TextDecoder()
type BatchOp = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

/** Durable storage of pin records and their indexes. */
export interface RecordStore {
  /** A `created` value later than every one handed out before, across restarts. */
  nextCreated(): number
  get(requestid: string): Promise<PinRecord | undefined>
  /**
   * Writes `next` and removes `removed` (if given) in one atomic batch.
   * `durable: false` skips the fsync, for changes a crash may safely undo;
   * `extra` operations land in the same batch.
   */
  write(next: PinRecord, previous?: PinRecord, removed?: PinRecord, options?: WriteOptions): Promise<void>
  remove(record: PinRecord, options?: Pick<WriteOptions, 'extra'>): Promise<void>
  /** Writes many new records in one batch (imports, benchmarks); `created` must come from nextCreated(). */
  importMany(records: PinRecord[]): Promise<void>
  /** True when some live request still wants `cidKey` kept. */
  isReferenced(cidKey: string): Promise<boolean>
  /**
   * True when some pending request names the CAR upload `upload` (written since 2026-12-01: a request of an
   * older build is found only by reading its record).
   */
  namesUpload(upload: string): Promise<boolean>
  /**
   * Queued and pinning records in queue order (queuePlace: oldest first, a replacement where it replaced), at
   * start only: stale entries are mended as they are met (pending-range.ts).
   */
  pending(): AsyncGenerator<PinRecord>
  /** At clean shutdown, once nothing writes any more: waits for writes in flight and saves the index snapshot. */
  close(): Promise<void>
}

/** What the store needs: the LevelDB handle under the datastore. */
export interface RecordStoreComponents {
  db: Level<string, Uint8Array>
  /** Kept in step with every committed write; loaded from the store (or the snapshot) at open. */
  index?: PinIndex
  /** Where the index is saved at close and loaded from at open when it matches the records. */
  snapshot?: Pick<IndexSnapshot, 'read' | 'write'>
}

/** Opens the record store on an open LevelDB and loads its clock. */
export async function createRecordStore (components: RecordStoreComponents): Promise<RecordStore> {
  const { db, index, snapshot } = components
  const text = async (key: string): Promise<string> => {
    const v = await db.get(key)
    return v == null ? '' : decoder.decode(v)
  }
  const stored = await db.get(CLOCK_KEY)
  let clock = stored == null ? 0 : Number(decoder.decode(stored))
  const [id, storedSeq] = (await text(GENERATION_KEY)).split(' ')
  // None yet (or unreadable): a new id, which no snapshot carries.
  const known = id != null && id !== '' && Number.isSafeInteger(Number(storedSeq))
  const generation = known ? { id, seq: Number(storedSeq) } : { id: randomUUID(), seq: 0 }
  // A failed batch may still have landed (write-guard.ts: refused after a torn append, kept by LevelDB's
  // recovery) while the index never took it: no snapshot at close then, the next start reads the records.
  let failedWrite = false
  const generationNow = async (): Promise<Generation> =>
    ({ ...generation, clock: await text(CLOCK_KEY), format: await text(FORMAT_KEY) })
  // Concurrent changes are written together (one LevelDB write, one fsync), each advancing the generation.
  const group = createGroupCommit<BatchOp>({ maxOps: GROUP_MAX_OPS, maxWrites: GROUP_MAX_WRITES }, {
    writeBatch: async (ops, sync) => {
      const value = encoder.encode(`${generation.id} ${++generation.seq}`)
      try {
        await db.batch([...ops, { type: 'put' as const, key: GENERATION_KEY, value }], { sync })
      } catch (err) {
        failedWrite = true
        throw err
      }
    }
  })

  /** Commits one batch atomically: on disk before it resolves when `sync`. */
  async function commit (ops: BatchOp[], sync: boolean): Promise<void> {
    await group.write(ops, sync)
  }
  // Concurrent batches may land out of order, so the stored clock can trail the newest record.
  for await (const key of db.keys({ gt: `${PREFIX}created/`, lt: `${PREFIX}created/\xff`, reverse: true, limit: 1 })) {
    clock = Math.max(clock, Number(key.slice(key.lastIndexOf('/') + 1)))
  }

  async function getByKey (key: string): Promise<PinRecord | undefined> {
    const value = await db.get(key)
    return value == null ? undefined : decode(value)
  }

  if (index != null) {
    const saved = await snapshot?.read(await generationNow())
    if (saved != null) {
      index.restore(saved)
    } else {
      const prefix = `${PREFIX}own/`
      for await (const value of db.values({ gt: prefix, lt: `${prefix}\xff` })) index.put(decode(value))
    }
  }

  async function any (prefix: string): Promise<boolean> {
    for await (const _ of db.keys({ gt: prefix, lt: `${prefix}\xff`, limit: 1 })) return true
    return false
  }

  async function get (requestid: string): Promise<PinRecord | undefined> {
    const own = await db.get(`${PREFIX}req/${requestid}`)
    return own == null ? undefined : await getByKey(decoder.decode(own))
  }

  return {
    get,

    nextCreated () {
      clock = Math.max(Date.now(), clock + 1)
      return clock
    },

    async write (next, previous, removed, options = {}) {
      const puts = entries(next)
      const ops: BatchOp[] = []
      const before = previous == null ? undefined : entries(previous, false)
      const gone = removed == null ? undefined : entries(removed, false)
      for (const key of [...(before?.keys() ?? []), ...(gone?.keys() ?? [])]) {
        if (!puts.has(key)) ops.push({ type: 'del', key })
      }
      for (const [key, value] of puts) {
        // A change of state rewrites only what changed (the record, its pending entry): the rest is stored.
        const stored = before?.get(key)
        if (stored != null && gone?.has(key) !== true && equals(stored, value)) continue
        ops.push({ type: 'put', key, value })
      }
      // Only a new record took a new `created` from the clock.
      if (previous == null) ops.push({ type: 'put', key: CLOCK_KEY, value: encoder.encode(String(clock)) })
      await commit([...ops, ...(options.extra ?? [])], options.durable !== false)
      // The new record first: a replacement holding the old CID takes over its charge.
      index?.put(next)
      if (removed != null) index?.remove(removed)
    },

    async remove (record, options = {}) {
      const dels = [...entries(record, false).keys()].map(key => ({ type: 'del' as const, key }))
      await commit([...dels, ...(options.extra ?? [])], true)
      index?.remove(record)
    },

    async importMany (records) {
      const ops = records.flatMap(r => [...entries(r)].map(([key, value]) => ({ type: 'put' as const, key, value })))
      await commit([...ops, { type: 'put' as const, key: CLOCK_KEY, value: encoder.encode(String(clock)) }], true)
      for (const r of records) index?.put(r)
    },

    async isReferenced (cidKey) {
      return await any(`${PREFIX}ref/${cidKey}/`)
    },

    async namesUpload (upload) {
      return await any(`${PREFIX}upload-ref/${upload}/`)
    },

    pending () {
      return readPending({ db, index, get })
    },

    async close () {
      await group.idle()
      if (index == null || snapshot == null || failedWrite) return
      // Stored as it is in memory now: concurrent batches may have landed out of order.
      await db.put(GENERATION_KEY, encoder.encode(`${generation.id} ${generation.seq}`), { sync: true })
      await snapshot.write(index.dump(), await generationNow())
    }
  }
}
