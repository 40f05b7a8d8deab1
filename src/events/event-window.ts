/**
 * The event log's window: which ids the log still holds, and dropping the
 * events outside it, by count and by age. The count is of events, not of ids:
 * a start skips up to a reservation's block of ids and a failed write leaves
 * its id empty, so the ids in the window that hold no event (`gaps`) are
 * tracked. The log (event-log.ts) hands out and publishes ids; this module
 * decides what it drops and reads and deletes the dropped events.
 */
import type { PinEvent } from './index.js'
import type { ExtraOp } from '../pins/record-store.js'
import type { Level } from 'level'

/** Events beyond the count the log may hold before a prune starts at once. */
const PRUNE_SLACK = 100
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The stored key of event `id`. */
export const eventKey = (id: number): string => EVENT_PREFIX + id.toString().padStart(16, '0')
/** Where events are stored, by id. */
export const EVENT_PREFIX = '/pinery/ev/'
/** The highest id a prune dropped: ids are never reused, also after every event was dropped. */
export const LAST_KEY = '/pinery/ev-last'

/** The window's size. */
export interface EventWindowInit {
  /** Events kept at most. */
  maxEvents: number
  /** Events older than this are dropped. */
  maxAgeMs: number
}

/** What the window needs. */
export interface EventWindowComponents {
  db: Level<string, Uint8Array>
  /** The highest id published (every id up to it is written, or its write failed). */
  published(): number
  /** Told of the events about to be dropped (id → JSON, up to `upTo`): the outbox keeps what it needs. */
  beforePrune?(upTo: number, bodies: Map<number, string>): Promise<void>
}

/** The log's window. */
export interface EventWindow {
  /** A published id whose write failed: it holds no event. */
  gap(): void
  /** Whether the count overshot enough that a prune should start now (checked as each id is published). */
  due(published: number): boolean
  /** True when events after `after` are no longer all in the window (or `after` was never handed out). */
  isGone(after: number): boolean
  /** Drops the events outside the window (one prune at a time; a second call waits for the running one). */
  prune(): Promise<void>
}

/** The window of a log whose oldest held id is `lowest`. */
export function createEventWindow (
  lowest: number, init: EventWindowInit, components: EventWindowComponents
): EventWindow {
  const { db, published } = components
  /**
   * Ids in [lowest, published] that hold no event (skipped by a start, or whose write failed), so the window
   * counts events: the first prune counts the stored ones (until then only failures are known), each prune
   * takes out those below its new lowest, and a failed write adds one.
   */
  let gaps = 0
  let gapsCounted = false
  /** A prune starts at once when `published` reaches this (the window by count, plus some slack). */
  let pruneAt = 0
  const windowMoved = (): void => { pruneAt = lowest + gaps + init.maxEvents + PRUNE_SLACK }
  windowMoved()

  /** Moves the window's start to `to`, past `dropped` events: the ids between without one leave `gaps`. */
  function moveLowest (to: number, dropped: number): void {
    gaps -= to - lowest - dropped
    lowest = to
    windowMoved()
  }

  /** Counts the stored events once (the keys only; a prune reads the oldest ones anyway): `gaps` is exact then. */
  async function countGaps (): Promise<void> {
    const upTo = published()
    const failedMeanwhile = gaps
    let stored = 0
    for await (const _ of db.keys({ gt: EVENT_PREFIX, lte: eventKey(upTo) })) stored++
    gaps = upTo - lowest + 1 - stored + (gaps - failedMeanwhile)
    gapsCounted = true
    windowMoved()
  }

  async function pruneNow (): Promise<void> {
    if (!gapsCounted) await countGaps()
    const end = published()
    // The oldest events beyond the count: every id up to `end` holds one but the gaps.
    const byCount = end - lowest + 1 - gaps - init.maxEvents
    const byAge = new Date(Date.now() - init.maxAgeMs).toISOString()
    let batch: ExtraOp[] = []
    let bodies = new Map<number, string>()
    let upTo = 0
    let dropped = 0
    const commit = async (): Promise<void> => {
      if (batch.length === 0) return
      await components.beforePrune?.(upTo, bodies)
      // Gone from now on, before it is: a replay never skips an event silently.
      moveLowest(upTo + 1, batch.length)
      // With every event dropped, this keeps the ids from starting over.
      batch.push({ type: 'put', key: LAST_KEY, value: encoder.encode(String(upTo)) })
      await db.batch(batch)
      batch = []
      bodies = new Map()
    }
    let kept: number | undefined
    for await (const [key, value] of db.iterator({ gt: EVENT_PREFIX, lt: `${eventKey(end)}\xff` })) {
      const id = Number(key.slice(EVENT_PREFIX.length))
      const json = decoder.decode(value)
      if (dropped >= byCount && (JSON.parse(json) as PinEvent).time >= byAge) { kept = id; break }
      batch.push({ type: 'del', key })
      bodies.set(id, json)
      upTo = id
      dropped++
      if (batch.length >= 1000) await commit()
    }
    await commit()
    // Not past `end`: events published during the prune are in the log.
    moveLowest(kept ?? end + 1, 0)
  }

  let pruning: Promise<void> | undefined
  return {
    gap () { gaps++; pruneAt++ },
    due: (id) => id >= pruneAt,
    isGone: (after) => after > published() || after + 1 < lowest,
    async prune () {
      pruning ??= pruneNow().finally(() => { pruning = undefined })
      await pruning
    }
  }
}
