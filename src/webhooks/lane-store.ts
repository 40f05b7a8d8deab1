/**
 * What the outbox keeps in LevelDB for each webhook's lane: its cursor, and
 * the parked entries (failed deliveries, and events the log is about to drop
 * that the webhook has not had yet). A lane's window is filled from here and
 * from the log in id order, and parked back here. The delivering side is
 * outbox.ts; the key layout is described there.
 */
import { CURSOR, decodeEntry, encodeEntry, entryOf, keyOf, matches, PREFIX, pad, type Entry } from './outbox-entries.js'
import { put, safeCursor, waiting, type Lane } from './lane.js'
import { createWriteBatcher } from './write-batcher.js'
import type { WebhookStore } from './webhook-store.js'
import type { EventLog, LoggedEvent } from '../events/event-log.js'
import type { PinEvent } from '../events/index.js'
import type { Logger } from '../logger.js'
import type { ExtraOp } from '../pins/record-store.js'
import type { Level } from 'level'

/** What the lane store needs. */
export interface LaneStoreComponents {
  db: Level<string, Uint8Array>
  store: Pick<WebhookStore, 'get'>
  events: Pick<EventLog, 'get' | 'read' | 'published'>
  log: Logger
}

/** A lane's durable side. */
export interface LaneStore {
  /** The stored cursor of webhook `id`, or undefined. */
  cursor(id: string): Promise<number | undefined>
  /** Writes webhook `id`'s first cursor (synced). */
  createCursor(id: string, at: number): Promise<void>
  /** Writes the cursors that can move (unsynced, with other bookkeeping). */
  writeCursors(lanes: Iterable<Lane>): Promise<void>
  /** Reads the lane's next window of parked entries and log events, in id order; then calls `then`. */
  refill(lane: Lane, window: number, then: () => void): void
  /** Parks the lane's entries and unread wanted events up to `upTo` (id → JSON of events about to be dropped). */
  park(lane: Lane, upTo: number, bodies: Map<number, string>): Promise<void>
  /** Parks what the lane holds, after its reads (its webhook was disabled). */
  hold(lane: Lane): Promise<void>
  /** Writes delivery bookkeeping: shared unsynced batches, one per turn. */
  write(ops: ExtraOp[]): Promise<void>
  /** Forgets webhook `id`'s cursor and parked entries. */
  forget(id: string): Promise<void>
  /** Forgets the cursor and parked entries of every webhook not in `kept`; resolves with how many webhooks'. */
  forgetAllBut(kept: Set<string>): Promise<number>
}

/** Creates the lane store on the LevelDB. */
export function createLaneStore (components: LaneStoreComponents): LaneStore {
  const { db, store, events, log } = components
  const batcher = createWriteBatcher(db)
  const encoder = new TextEncoder()

  async function park (lane: Lane, upTo: number, bodies: Map<number, string>): Promise<void> {
    const hook = store.get(lane.id)
    const parking = [...waiting(lane)].filter(entry => entry.id <= upTo && !entry.parked)
    const ops: ExtraOp[] = parking.map(entry => ({ type: 'put', key: keyOf(entry), value: encodeEntry(entry) }))
    if (hook != null && lane.logPos < upTo) {
      for (const [id, json] of bodies) {
        if (id <= lane.logPos || id > upTo) continue
        const e: LoggedEvent = { id, event: JSON.parse(json) as PinEvent, json }
        if (matches(hook, e)) {
          const entry = entryOf(lane.id, e, Buffer.from(json))
          ops.push({ type: 'put', key: keyOf(entry), value: encodeEntry(entry) })
        }
      }
    }
    if (ops.length > 0) await db.batch(ops)
    // Delivered while being parked: it must not be delivered again.
    const gone: ExtraOp[] = []
    for (const entry of parking) {
      if (entry.done === true) gone.push({ type: 'del', key: keyOf(entry) })
      else entry.parked = true
    }
    if (gone.length > 0) await batcher.write(gone)
    lane.logPos = Math.max(lane.logPos, upTo)
  }

  /** Runs `job` after the lane's reads; a failure reaches the caller (a prune then drops nothing), not later reads. */
  async function serialised (lane: Lane, job: () => Promise<void>): Promise<void> {
    const done = lane.op.then(job)
    lane.op = done.catch(() => {})
    await done
  }

  return {
    async cursor (id) {
      const stored = await db.get(CURSOR + id)
      return stored == null ? undefined : Number(new TextDecoder().decode(stored))
    },

    async createCursor (id, at) {
      await db.put(CURSOR + id, encoder.encode(String(at)), { sync: true })
    },

    async writeCursors (lanes) {
      const moved = [...lanes].map(lane => ({ lane, at: safeCursor(lane) })).filter(m => m.at > m.lane.cursor)
      if (moved.length === 0) return
      await batcher.write(moved.map(m =>
        ({ type: 'put', key: CURSOR + m.lane.id, value: encoder.encode(String(m.at)) })))
      for (const m of moved) m.lane.cursor = Math.max(m.lane.cursor, m.at)
    },

    refill (lane, window, then) {
      if (lane.refilling) return
      lane.refilling = true
      lane.op = lane.op.then(async () => {
        const hook = store.get(lane.id)
        const limit = Math.max(1, window - lane.live)
        const prefix = `${PREFIX}${lane.id}/`
        const parked: Entry[] = []
        const range = { gt: prefix + pad(lane.parkedPos), lt: `${prefix}\xff`, limit }
        for await (const [key, value] of db.iterator(range)) parked.push(decodeEntry(key, value))
        const upTo = events.published()
        const logged: LoggedEvent[] = []
        if (lane.logPos < upTo) {
          for await (const e of events.read(lane.logPos, upTo)) if (logged.push(e) >= limit) break
        }
        // Everything up to `x` of both is in hand; beyond it, neither is read yet.
        let x = upTo
        if (parked.length >= limit) x = Math.min(x, (parked.at(-1) as Entry).id)
        if (logged.length >= limit) x = Math.min(x, (logged.at(-1) as LoggedEvent).id)
        for (const entry of parked) {
          if (entry.id > x) break
          if (entry.body.length === 0) {
            // Written by an older version, which left the body to the log.
            const body = await events.get(entry.id)
            if (body == null) {
              log.error({ webhook: lane.id, event: entry.id }, 'a parked entry lost its event')
              continue
            }
            entry.body = Buffer.from(body)
          }
          put(lane, entry)
        }
        for (const e of logged) {
          if (e.id <= x && hook != null && matches(hook, e)) put(lane, entryOf(lane.id, e, Buffer.from(e.json)))
        }
        lane.parkedPos = Math.max(lane.parkedPos, x)
        lane.logPos = Math.max(lane.logPos, x)
        if (x >= events.published()) lane.behind = false
      }).catch((err) => { log.warn({ err, webhook: lane.id }, 'cannot read the outbox') }).finally(() => {
        lane.refilling = false
        then()
      })
    },

    async park (lane, upTo, bodies) { await serialised(lane, async () => { await park(lane, upTo, bodies) }) },

    async hold (lane) { await serialised(lane, async () => { await park(lane, lane.logPos, new Map()) }) },

    write: async (ops) => { await batcher.write(ops) },

    forget: async (id) => { await forgetOutbox(db, id) },

    forgetAllBut: async (kept) => await forgetLeftovers(db, kept)
  }
}

/**
 * Forgets what webhooks that are gone left behind: a removal is two writes (the webhook, then its outbox),
 * and a crash or a full disk between them left its parked entries (event bodies: pin names, CIDs, meta of
 * a user who may be deleted by now) and cursor in LevelDB for good, with no webhook to reach them by. One
 * seek per webhook with outbox keys: there are few.
 */
async function forgetLeftovers (db: Level<string, Uint8Array>, kept: Set<string>): Promise<number> {
  const gone = new Set<string>()
  for (const prefix of [PREFIX, CURSOR]) {
    let from = prefix
    for (;;) {
      let id: string | undefined
      for await (const key of db.keys({ gt: from, lt: `${prefix}\xff`, limit: 1 })) {
        id = key.slice(prefix.length).split('/')[0]
      }
      if (id == null) break
      if (!kept.has(id)) gone.add(id)
      from = `${prefix}${id}/\xff`
    }
  }
  for (const id of gone) await forgetOutbox(db, id)
  return gone.size
}

/** Deletes webhook `id`'s cursor and parked entries (its webhook is gone); also for a stopped data dir. */
export async function forgetOutbox (db: Pick<Level<string, Uint8Array>, 'clear' | 'del'>, id: string): Promise<void> {
  await db.clear({ gt: `${PREFIX}${id}/`, lt: `${PREFIX}${id}/\xff` })
  await db.del(CURSOR + id)
}
