/**
 * Reading the pending range at start (`/pinery/pending/<place>/<id>`, record-store.ts): the queued and pinning
 * records in queue order, and the range mended as it is read. An entry may be stale: a build from before
 * queuedAt (2026-12-01) settles or deletes a request by the key `pending/<created>/<id>`, so the entry this
 * build wrote at the place the request took over stays behind, and one such build writes besides (its
 * `pending/<created>/<id>` for a record whose place is its queuedAt). Each start used to resume every such
 * entry (its record copy) and the job skipped it when its turn came, with its blocks protected till then,
 * forever. Now an entry whose record is gone or settled (the index knows each record's status) is deleted, and
 * one at another place than its record's is moved there, the record resumed once.
 */
import { decode, entries, pendingKey, PREFIX } from './record-keys.js'
import type { PinRecord } from './types.js'
import type { PinIndex } from './query-index.js'
import type { Level } from 'level'

/** What reading the range needs. */
export interface PendingRangeComponents {
  db: Level<string, Uint8Array>
  /** Each record's status; without it, entries are taken as they are. */
  index?: Pick<PinIndex, 'statusOf'>
  /** The record `requestid` as stored (for the few entries not at their record's place). */
  get(requestid: string): Promise<PinRecord | undefined>
}

type BatchOp = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

/** Pending records are read this many at a time. */
const PENDING_CHUNK = 512
const PREFIX_PENDING = `${PREFIX}pending/`
const decoder = new TextDecoder()
const pendingStatus = (status: string | undefined): boolean => status === 'queued' || status === 'pinning'

/**
 * Queued and pinning records in queue order, mending stale entries on the way. Only at start, before anything is
 * served or the worker holds these records (they are handed out only once written), so no change races it.
 * Its writes are unsynced: a crash merely means doing them again.
 */
export async function * readPending (components: PendingRangeComponents): AsyncGenerator<PinRecord> {
  const { db, index } = components
  // The pending entries carry their records: one compact key range. Looking each record up
  // through req/ and own/ instead touched tables all over the store (on 1M records, 100k
  // pending: ~410 MiB of LevelDB's mapped files in RSS, ~0.6 s of getMany). Entries written
  // before they carried the record (empty) are looked up so, a chunk at a time with getMany,
  // the next chunk read while the caller works through this one.
  const read = async (chunk: Array<[string, Uint8Array]>): Promise<PinRecord[]> => {
    const old = chunk.flatMap(([key, value]) =>
      value.byteLength > 0 ? [] : [`${PREFIX}req/${key.slice(key.lastIndexOf('/') + 1)}`])
    const owns = old.length === 0 ? [] : await db.getMany(old)
    const found = owns.some(own => own != null)
      ? await db.getMany(owns.flatMap(own => own == null ? [] : [decoder.decode(own)]))
      : []
    let i = 0
    let j = 0
    const mend: BatchOp[] = []
    const records: PinRecord[] = []
    for (const [key, value] of chunk) {
      let stored = value
      if (value.byteLength === 0) stored = (owns[i++] == null ? undefined : found[j++]) ?? value
      const record = stored.byteLength > 0 ? decode(stored) : undefined
      // Gone, or settled since: nothing to resume.
      if (record == null || (index != null && !pendingStatus(index.statusOf(record)))) {
        mend.push({ type: 'del', key })
        continue
      }
      if (key === pendingKey(record)) {
        // Old entries get their records now, so the next start reads only this range.
        if (stored !== value) mend.push({ type: 'put', key, value: stored })
        records.push(record)
        continue
      }
      const moved = await move(key, mend)
      if (moved != null) records.push(moved)
    }
    if (mend.length > 0) await db.batch(mend)
    return records
  }

  /**
   * An entry not at its record's place: the record as stored now, at its place. Resolves with it when it is to
   * be resumed from here (no entry at its place, or this is it), undefined when its own entry resumes it.
   */
  async function move (key: string, mend: BatchOp[]): Promise<PinRecord | undefined> {
    const current = await components.get(key.slice(key.lastIndexOf('/') + 1))
    if (current == null || !pendingStatus(current.status)) { mend.push({ type: 'del', key }); return undefined }
    const right = pendingKey(current)
    if (right === key) return current
    mend.push({ type: 'del', key })
    if (await db.get(right) != null) return undefined
    mend.push({ type: 'put', key: right, value: entries(current).get(right) as Uint8Array })
    return current
  }

  let chunk: Array<[string, Uint8Array]> = []
  let ahead: Promise<PinRecord[]> | undefined
  // The iterator reads a snapshot: entries mended meanwhile are not met again.
  for await (const entry of db.iterator({ gt: PREFIX_PENDING, lt: `${PREFIX_PENDING}\xff` })) {
    chunk.push(entry)
    if (chunk.length < PENDING_CHUNK) continue
    const next = read(chunk)
    next.catch(() => {}) // awaited below; a failure surfaces there
    chunk = []
    if (ahead != null) yield * await ahead
    ahead = next
  }
  if (ahead != null) yield * await ahead
  if (chunk.length > 0) yield * await read(chunk)
}
