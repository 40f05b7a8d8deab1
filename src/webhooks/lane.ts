/**
 * One webhook's delivery lane: its window of entries in id order and how far
 * it has read the log and its parked entries. The outbox (outbox.ts) drives it.
 */
import type { Entry } from './outbox-entries.js'

/** A webhook's lane. */
export interface Lane {
  id: string
  /** Entries in memory, by id. */
  queue: Entry[]
  ids: Set<number>
  /** The cursor as last written. */
  cursor: number
  /** The log is read up to here: each wanted event up to it is in `queue`, delivered or parked. */
  logPos: number
  /** Parked entries up to here are in `queue` (or delivered). */
  parkedPos: number
  /** More waits than the window holds: the lane reads the log instead of following it. */
  behind: boolean
  refilling: boolean
  /** Serialises reading and parking. */
  op: Promise<void>
  inflight: Map<string, Entry>
  failures: number
  pausedUntil: number
  timer?: NodeJS.Timeout
  pumpScheduled: boolean
}

/** A lane at `cursor`. */
export const newLane = (id: string, cursor: number, behind: boolean): Lane => ({
  id, queue: [], ids: new Set(), cursor, logPos: cursor, parkedPos: 0, behind, refilling: false,
  op: Promise.resolve(), inflight: new Map(), failures: 0, pausedUntil: 0, pumpScheduled: false
})

/** Adds `entry` to the lane's window in id order (once). */
export function put (lane: Lane, entry: Entry): void {
  if (lane.ids.has(entry.id)) return
  lane.ids.add(entry.id)
  let i = lane.queue.length
  while (i > 0 && (lane.queue[i - 1] as Entry).id > entry.id) i--
  lane.queue.splice(i, 0, entry)
}

/** Where the cursor may go: below the first entry only the cursor stands for. */
export function safeCursor (lane: Lane): number {
  for (const entry of lane.queue) if (!entry.parked) return Math.min(lane.logPos, entry.id - 1)
  return lane.logPos
}
