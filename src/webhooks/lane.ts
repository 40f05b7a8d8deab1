/**
 * One webhook's delivery lane: its window of entries in id order and how far
 * it has read the log and its parked entries. The outbox (outbox.ts) drives it.
 *
 * A delivered entry is only marked done and skipped: the window is compacted
 * once it is mostly done entries, so removing one costs O(1) instead of a
 * splice of up to 5,000 entries per delivery (what dominated the outbox's own
 * CPU in a profile of 60,000 POSTs, 2026-11-30).
 */
import type { Entry } from './outbox-entries.js'
import type { Target } from './deliver.js'

/** A webhook's lane. */
export interface Lane {
  id: string
  /** Entries in memory, by id; those before `start`, and those marked done, are delivered. */
  queue: Entry[]
  start: number
  /** Entries not delivered yet (the window's size). */
  live: number
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
  /** The webhook's URL and key, prepared at its first delivery. */
  target?: Target
}

/** A lane at `cursor`. */
export const newLane = (id: string, cursor: number, behind: boolean): Lane => ({
  id, queue: [], start: 0, live: 0, ids: new Set(), cursor, logPos: cursor, parkedPos: 0, behind, refilling: false,
  op: Promise.resolve(), inflight: new Map(), failures: 0, pausedUntil: 0, pumpScheduled: false
})

/** Adds `entry` to the lane's window in id order (once). */
export function put (lane: Lane, entry: Entry): void {
  if (lane.ids.has(entry.id)) return
  lane.ids.add(entry.id)
  lane.live++
  let i = lane.queue.length
  while (i > lane.start && (lane.queue[i - 1] as Entry).id > entry.id) i--
  if (i === lane.queue.length) lane.queue.push(entry)
  else lane.queue.splice(i, 0, entry)
}

/** Takes a delivered entry out of the window. */
export function remove (lane: Lane, entry: Entry): void {
  if (entry.done === true) return
  entry.done = true
  lane.ids.delete(entry.id)
  lane.live--
  const { queue } = lane
  while (lane.start < queue.length && (queue[lane.start] as Entry).done === true) lane.start++
  // Delivered entries are let go soon (a new array: a loop over the old one goes on undisturbed). Kept until
  // 1,024 were dead, each lived ~0.5 s at bench:events' rate, long enough for V8 to move it (and its body's
  // Buffer) to the old generation: 3 entries per event.
  if (lane.start >= 256) {
    lane.queue = queue.slice(lane.start)
    lane.start = 0
    return
  }
  // Also behind an entry that stays (retried, or parked while its webhook is disabled).
  const dead = queue.length - lane.live
  if (dead >= 1024 && dead * 2 >= queue.length) {
    lane.queue = queue.filter(e => e.done !== true)
    lane.start = 0
  }
}

/** The entries waiting, in id order (delivered ones skipped). */
export function * waiting (lane: Lane): Generator<Entry> {
  const { queue } = lane
  for (let i = lane.start; i < queue.length; i++) {
    const entry = queue[i] as Entry
    if (entry.done !== true) yield entry
  }
}

/** Where the cursor may go: below the first entry only the cursor stands for. */
export function safeCursor (lane: Lane): number {
  for (const entry of waiting(lane)) if (!entry.parked) return Math.min(lane.logPos, entry.id - 1)
  return lane.logPos
}
