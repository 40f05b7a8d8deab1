/**
 * The durable event log. Every change of a pin request becomes one event,
 * written in the same LevelDB batch as the change itself (through the
 * lifecycle's change hook), so no acknowledged change is without its event.
 * It is also the webhooks' outbox (each webhook keeps a cursor into it):
 *
 *   /pinery/ev/<id, 16 digits>  → the event (JSON)
 *   /pinery/ev-last             → the highest id dropped by a prune (ids are never reused: at start
 *                                 the next id is above it and above every stored event)
 *   /pinery/ev-reserved         → ids up to here may have been handed out (fsynced before any is published)
 *
 * Some events are written without an fsync (pin.pinning, pin.progress) but streamed and delivered at once;
 * a power cut drops them, and their ids must not go to other events then (a client resuming after one, or
 * a webhook receiver deduplicating on the id, would skip the new event). So ids are reserved
 * {@link RESERVE_BLOCK} at a time in a synced write, an event is published only once its id is reserved,
 * and a start continues above the reservation: a restart skips at most that many ids.
 *
 * Ids are handed out before the batch is written, and batches of different
 * requests may land out of order; subscribers are told of events strictly in
 * id order, once every lower id is written (or its write failed). The log
 * keeps a bounded window, by count of events (not of ids: a node that restarts often skips up to
 * RESERVE_BLOCK ids each time) and by age (event-window.ts).
 */
import { counted } from '../counted.js'
import { createEventWindow, EVENT_PREFIX as PREFIX, LAST_KEY, eventKey, type EventWindowInit } from './event-window.js'
import type { PinEvent, PinEventType } from './index.js'
import type { Logger } from '../logger.js'
import type { PinProgress, PinRecord } from '../pins/types.js'
import type { PinChangeHook } from '../pins/lifecycle.js'
import type { ExtraOp } from '../pins/record-store.js'
import type { PinStatusBody } from '../http/pin-status.js'
import type { Level } from 'level'

const RESERVED_KEY = '/pinery/ev-reserved'
/** Ids reserved per synced write; a new one is written when less than half of them is left. */
const RESERVE_BLOCK = 1000
const RETRY_RESERVE_MS = 1000
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** An event as the log holds it: its id as a number, the event and its JSON. */
export interface LoggedEvent {
  id: number
  event: PinEvent
  json: string
  /** The JSON's UTF-8 bytes once the log wrote them: the webhooks send these, not the JSON encoded again. */
  bytes?: Uint8Array
  /** The record it describes (in memory only: events read back from the log have none). */
  record?: PinRecord
}

/** Settings of the log's window. */
export interface EventLogInit extends EventWindowInit {
  /** How often the window is enforced. */
  pruneIntervalMs?: number
  /**
   * false: never drops events (the offline CLI, where no outbox parks what its webhooks still need before
   * a prune); the service's next start enforces the window.
   */
  prunes?: boolean
}

/** What the log needs. */
export interface EventLogComponents {
  db: Level<string, Uint8Array>
  /** The request's PinStatus, as GET /pins/{id} shows it. */
  render(record: PinRecord, details?: string): PinStatusBody
  /** Told of the events about to be dropped (id → JSON, up to `upTo`): the outbox keeps what it needs. */
  beforePrune?(upTo: number, bodies: Map<number, string>): Promise<void>
  logger: Logger
}

/** Appends events and tells subscribers of them in order. */
export interface EventLog {
  /** The lifecycle's hook: one event per change, in the change's batch. */
  onChange: PinChangeHook
  /** Appends a pin.progress event in its own unsynced write (no record changes). */
  appendProgress(record: PinRecord, progress: PinProgress): Promise<void>
  /** Calls `listener` with every event from now on, in id order; returns the unsubscribe. */
  subscribe(listener: (e: LoggedEvent) => void): () => void
  /** The highest id subscribers have been told of: everything up to it is in the log. */
  published(): number
  /** True when events after `after` are no longer all in the window (or `after` was never handed out). */
  isGone(after: number): boolean
  /** The JSON of event `id`, while the log holds it. */
  get(id: number): Promise<string | undefined>
  /** Events with `after < id <= upTo`, oldest first. */
  read(after: number, upTo: number): AsyncGenerator<LoggedEvent>
  /** Drops events outside the window now. */
  prune(): Promise<void>
  stop(): void
}

function decode (value: Uint8Array): LoggedEvent {
  const json = decoder.decode(value)
  const event = JSON.parse(json) as PinEvent
  return { id: Number(event.id), event, json }
}

/** Opens the log on the datastore's LevelDB and starts enforcing its window. */
export async function createEventLog (init: EventLogInit, components: EventLogComponents): Promise<EventLog> {
  const { db } = components
  const log = components.logger.child({ component: 'events' })
  const prunes = init.prunes !== false
  const stored = await db.get(LAST_KEY)
  let last = stored == null ? 0 : Number(decoder.decode(stored))
  let floor: number | undefined
  for await (const key of db.keys({ gt: PREFIX, lt: `${PREFIX}\xff`, reverse: true, limit: 1 })) {
    last = Math.max(last, Number(key.slice(PREFIX.length)))
  }
  for await (const key of db.keys({ gt: PREFIX, lt: `${PREFIX}\xff`, limit: 1 })) {
    floor = Number(key.slice(PREFIX.length))
  }
  const lowest = floor ?? last + 1
  const storedReserved = await db.get(RESERVED_KEY)
  last = Math.max(last, storedReserved == null ? 0 : Number(decoder.decode(storedReserved)))
  let published = last
  const span = createEventWindow(lowest, init, {
    db, published: () => published, ...(components.beforePrune != null ? { beforePrune: components.beforePrune } : {})
  })
  /** Ids up to here are reserved durably: events up to it may be published. */
  let reserved = last
  let reserving: Promise<void> | undefined
  let stopped = false
  const writeReservation = async (upTo: number): Promise<void> => {
    await db.put(RESERVED_KEY, encoder.encode(String(upTo)), { sync: true })
    reserved = Math.max(reserved, upTo)
  }
  /** No reservation is tried before this (performance.now()) after one failed: not a write and a warning per event. */
  let pausedUntil = 0
  /** Reserves the next block once less than half of this one is left; publishing waits for it if it must. */
  function reserveAhead (): void {
    if (stopped || reserving != null || last + RESERVE_BLOCK / 2 <= reserved) return
    if (performance.now() < pausedUntil) return
    let written = false
    reserving = writeReservation(last + RESERVE_BLOCK)
      .then(() => { written = true }, err => {
        pausedUntil = performance.now() + RETRY_RESERVE_MS
        log.warn({ err }, 'cannot reserve event ids')
      })
      .finally(() => {
        reserving = undefined
        // More ids handed out meanwhile than reserved: reserve again (after a pause when the write failed).
        if (written) reserveAhead()
        else setTimeout(reserveAhead, RETRY_RESERVE_MS).unref()
        flush()
      })
  }
  await writeReservation(last + RESERVE_BLOCK)
  // id → the written event, false when its write failed, undefined while it is being written.
  const settling = new Map<number, LoggedEvent | false | undefined>()
  const listeners = new Set<(e: LoggedEvent) => void>()

  function flush (): void {
    for (;;) {
      const next = published + 1
      // Not before its id is reserved durably: a power cut must not hand it out again.
      if (next > reserved) return
      if (!settling.has(next)) return
      const value = settling.get(next)
      if (value === undefined) return
      settling.delete(next)
      published = next
      // The interval keeps the window by age; a burst must not overshoot the count for long.
      if (prunes && span.due(published)) {
        void api.prune().catch(err => { log.warn({ err }, 'cannot prune the event log') })
      }
      if (value === false) { span.gap(); continue }
      for (const listener of listeners) {
        try { listener(value) } catch (err) { log.error({ err }, 'event listener failed') }
      }
    }
  }

  function build (type: PinEventType, record: PinRecord, extra: Partial<PinEvent> = {}, details?: string): LoggedEvent {
    const id = ++last
    reserveAhead()
    const event: PinEvent = {
      id: String(id),
      type,
      time: new Date().toISOString(),
      user: record.owner,
      pin: components.render(record, details),
      ...extra
    }
    const logged: LoggedEvent = { id, event, json: JSON.stringify(event), record }
    settling.set(id, undefined)
    return logged
  }

  function opsFor (events: LoggedEvent[]): ExtraOp[] {
    return events.map(e => ({ type: 'put', key: eventKey(e.id), value: e.bytes ??= encoder.encode(e.json) }))
  }

  function settle (events: LoggedEvent[], written: boolean): void {
    for (const e of events) settling.set(e.id, written ? e : false)
    flush()
  }

  const timer = prunes
    ? setInterval(() => {
        void api.prune().catch(err => { log.warn({ err }, 'cannot prune the event log') })
      }, init.pruneIntervalMs ?? 10_000)
    : undefined
  timer?.unref()

  const api: EventLog = {
    onChange (changes) {
      const events = changes.map(c => build(`pin.${c.kind}`, c.record, {
        ...(c.kind === 'failed' ? { reason: c.record.failure ?? 'failed' } : {}),
        ...(c.replacedBy != null ? { replaced_by: c.replacedBy } : {})
      }))
      return { extra: opsFor(events), done: (written) => { settle(events, written) } }
    },

    async appendProgress (record, progress) {
      // As the request's own status words it (PinService.statusDetails): "fetched 1 block", never "1 blocks".
      const details = `fetched ${counted(progress.blocks, 'block')}, ${counted(progress.bytes, 'byte')}`
      const event = build('pin.progress', record, { progress: { ...progress } }, details)
      try {
        await db.batch(opsFor([event]), { sync: false })
      } catch (err) {
        settle([event], false)
        throw err
      }
      settle([event], true)
    },

    subscribe (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },

    published: () => published,

    isGone: span.isGone,

    async get (id) {
      const value = await db.get(eventKey(id))
      return value == null ? undefined : decoder.decode(value)
    },

    async * read (after, upTo) {
      for await (const value of db.values({ gt: eventKey(after), lte: eventKey(upTo) })) {
        yield decode(value)
      }
    },

    prune: span.prune,

    stop () {
      stopped = true
      clearInterval(timer)
      listeners.clear()
    }
  }
  return api
}
