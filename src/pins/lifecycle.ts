/**
 * The one place that creates, changes and removes pin records. Every change
 * is serialised per request, persisted atomically with its indexes, and
 * releases the CIDs the request no longer references.
 */
import { createKeyedMutex } from './keyed-mutex.js'
import { queuePlace, REPAIR_PLACE, type PinRecord, type PinState } from './types.js'
import type { RequestPins } from './request-pins.js'
import type { PinIndex } from './query-index.js'
import type { ExtraOp, RecordStore } from './record-store.js'

/** What happened to a request: its new state, or that it was replaced or deleted. */
export type PinChangeKind = PinState | 'replaced' | 'deleted'

/** One change of a request, as the record now stands (or stood, when replaced or deleted). */
export interface PinChange {
  kind: PinChangeKind
  record: PinRecord
  /** The request that replaced this one. */
  replacedBy?: string
}

/**
 * Told of every change before it is written: its `extra` operations go in the
 * change's own batch (so an event lands with its change or not at all), and
 * `done` says whether the batch was written.
 */
export type PinChangeHook = (changes: PinChange[]) => { extra: ExtraOp[], done(written: boolean): void }

/** Moves records through queued → pinning → pinned | failed. */
export interface PinLifecycle {
  /**
   * Persists a new record (the request's intent) before anyone is told of it; `alongside` lands in the same
   * batch (the key naming it under the CAR upload that makes it).
   */
  create(record: PinRecord, alongside?: ExtraOp[]): Promise<void>
  /**
   * Removes the record `requestid` and persists `build(old)` in one atomic
   * write; returns the new record, or undefined when the old one is gone.
   */
  replace(requestid: string, build: (old: PinRecord) => PinRecord): Promise<PinRecord | undefined>
  /** Removes a record; returns it, or undefined when it was already gone. */
  remove(requestid: string): Promise<PinRecord | undefined>
  /**
   * Moves a record (the caller's copy of it) to `to` when the transition is
   * allowed; returns the new record, or undefined when the record is gone or
   * the move is not allowed. Only status, dagSize, failure, holds, upload and queuedAt ever
   * change after creation (the last three only by being dropped as it settles), so the caller's
   * copy is the record but for those.
   */
  transition(
    record: PinRecord, to: PinState, patch?: { dagSize?: number, failure?: string }
  ): Promise<PinRecord | undefined>
  /**
   * Sends a `pinned` request back to `queued`, to be fetched again (`pinery verify --repair` found its DAG
   * damaged), first among its owner's (REPAIR_PLACE); returns the new record, or undefined when it is gone or
   * not pinned. It keeps referencing its CID, so the DAG stays pinned meanwhile. The only way back from a
   * settled state, so not a transition.
   */
  refetch(requestid: string): Promise<PinRecord | undefined>
}

/** What the lifecycle needs. */
export interface PinLifecycleComponents {
  records: RecordStore
  /** Knows each record's current status without reading LevelDB. */
  index: Pick<PinIndex, 'statusOf'>
  content: Pick<RequestPins, 'release'>
  /** Records each change in the same batch (the event log). */
  onChange?: PinChangeHook
}

const ALLOWED: Record<PinState, PinState[]> = {
  queued: ['pinning', 'pinned', 'failed'],
  pinning: ['pinned', 'failed'],
  pinned: [],
  failed: []
}

function references (r: PinRecord): Set<string> {
  const refs = new Set(r.holds ?? [])
  if (r.status !== 'failed') refs.add(r.cidKey)
  return refs
}

function released (before: PinRecord, after?: PinRecord): string[] {
  const kept = after == null ? new Set<string>() : references(after)
  return [...references(before)].filter(c => !kept.has(c))
}

/**
 * `next`, the replacement of `old`, holding what `old` kept pinned until it settles (a pinned
 * replacement holds nothing): old's CID unless it failed, and what old held, each with its
 * dagSize when known, so the charge survives a rebuild of the index from the records; and old's upload.
 * A replacement of a pending request takes over its place in the queue (stored: it outlives a restart).
 */
export function holding (old: PinRecord, next: PinRecord): PinRecord {
  if (next.status === 'pinned') return next
  const placed = old.status === 'queued' || old.status === 'pinning' ? { ...next, queuedAt: queuePlace(old) } : next
  // And the blocks of the CAR upload that made `old`, which may exist nowhere else: a replacement for the same
  // DAG (a new name) needs them, the DAG it holds may too.
  const carried = old.upload == null ? placed : { ...placed, upload: old.upload }
  const sizes: Record<string, number> = { ...old.holdSizes }
  if (old.status === 'pinned' && old.dagSize != null) sizes[old.cidKey] = old.dagSize
  const holds = [...references(old)].filter(c => c !== next.cidKey)
  if (holds.length === 0) return carried
  const holdSizes = Object.fromEntries(holds.flatMap(c => sizes[c] == null ? [] : [[c, sizes[c]]]))
  return { ...carried, holds, ...(Object.keys(holdSizes).length > 0 ? { holdSizes } : {}) }
}

/** Creates the lifecycle over a record store. */
export function createPinLifecycle (components: PinLifecycleComponents): PinLifecycle {
  const { records, content } = components
  const lock = createKeyedMutex()

  /** Runs `write` with the hook's operations for `changes`, telling the hook how it went. */
  async function recorded (changes: PinChange[], write: (extra: ExtraOp[]) => Promise<void>): Promise<void> {
    const hook = components.onChange?.(changes)
    if (hook == null) { await write([]); return }
    try {
      await write(hook.extra)
    } catch (err) {
      hook.done(false)
      throw err
    }
    hook.done(true)
  }

  return {
    async create (record, alongside = []) {
      await lock.run(record.requestid, async () => {
        await recorded([{ kind: record.status, record }], async (extra) => {
          await records.write(record, undefined, undefined, { extra: [...extra, ...alongside] })
        })
      })
    },

    async replace (requestid, build) {
      const result = await lock.run(requestid, async () => {
        const old = await records.get(requestid)
        if (old == null) return undefined
        const next = build(old)
        const changes: PinChange[] = [
          { kind: 'replaced', record: old, replacedBy: next.requestid },
          { kind: next.status, record: next }
        ]
        await lock.run(next.requestid, async () => {
          await recorded(changes, async (extra) => { await records.write(next, undefined, old, { extra }) })
        })
        return { old, next }
      })
      if (result == null) return undefined
      await content.release(released(result.old, result.next))
      return result.next
    },

    async remove (requestid) {
      const gone = await lock.run(requestid, async () => {
        const record = await records.get(requestid)
        if (record != null) {
          await recorded([{ kind: 'deleted', record }], async (extra) => { await records.remove(record, { extra }) })
        }
        return record
      })
      if (gone != null) await content.release(released(gone))
      return gone
    },

    async transition (record, to, patch = {}) {
      const result = await lock.run(record.requestid, async () => {
        const status = components.index.statusOf(record)
        if (status == null || !ALLOWED[status].includes(to)) return undefined
        // A settled request holds nothing any more, so holds are as created until now.
        const current: PinRecord = { ...record, status }
        const next: PinRecord = { ...current, status: to, ...patch }
        // A settled request no longer needs to hold the CID it replaced.
        // Nor the blocks its upload stored: pinned, DagPins keeps its DAG; failed, they are garbage.
        // Nor its place in the queue (a refetch, the only way back, queues it anew).
        if (to === 'pinned' || to === 'failed') {
          delete next.holds; delete next.holdSizes; delete next.upload; delete next.queuedAt
        }
        // A settled state is reported to clients (POST /content answers `pinned` at once), so it is
        // fsynced before anyone sees it. Only `pinning` is not: a crash that loses it merely sends
        // the request back to `queued`, and it resumes. Its event rides in the same batch, as durable.
        await recorded([{ kind: to, record: next }], async (extra) => {
          await records.write(next, current, undefined, { durable: to !== 'pinning', extra })
        })
        return { current, next }
      })
      if (result == null) return undefined
      await content.release(released(result.current, result.next))
      return result.next
    },

    async refetch (requestid) {
      return await lock.run(requestid, async () => {
        const record = await records.get(requestid)
        if (record?.status !== 'pinned') return undefined
        const { dagSize: _settled, ...rest } = record
        // First among its owner's pending requests (at its creation's place it went behind those queued before).
        const next: PinRecord = { ...rest, status: 'queued', queuedAt: REPAIR_PLACE }
        // Like any change a client relies on, durable, with its event (pin.queued) in the same batch.
        await recorded([{ kind: 'queued', record: next }], async (extra) => {
          await records.write(next, record, undefined, { extra })
        })
        return next
      })
    }
  }
}
