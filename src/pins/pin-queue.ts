/**
 * The FIFO of queued pin requests: O(1) push, take and cancel, and a queue
 * position that stays exact under cancellations (each entry has a sequence
 * number; cancelled numbers still ahead of the head are subtracted).
 */
import type { PinRecord } from './index.js'

/** The queue of records waiting for a worker. */
export interface PinQueue {
  push(record: PinRecord): void
  /** Removes and returns the oldest record. */
  take(): PinRecord | undefined
  /** Removes a record; returns whether it was queued. */
  cancel(requestid: string): boolean
  /** 1-based position of a queued record, or undefined. */
  position(requestid: string): number | undefined
  has(requestid: string): boolean
  clear(): void
  readonly length: number
}

/** Creates an empty queue. */
export function createPinQueue (): PinQueue {
  // A Map iterates in insertion order: its first entry is the head.
  const entries = new Map<string, { record: PinRecord, seq: number }>()
  let nextSeq = 0
  let cancelledAhead: number[] = [] // ascending sequence numbers of cancelled entries

  const headSeq = (): number => entries.values().next().value?.seq ?? nextSeq
  const dropPassed = (): void => {
    const head = headSeq()
    let i = 0
    while (i < cancelledAhead.length && (cancelledAhead[i] as number) < head) i++
    if (i > 0) cancelledAhead = cancelledAhead.slice(i)
  }
  const countBelow = (seq: number): number => {
    let lo = 0
    let hi = cancelledAhead.length
    while (lo < hi) { const mid = (lo + hi) >>> 1; if ((cancelledAhead[mid] as number) < seq) lo = mid + 1; else hi = mid }
    return lo
  }

  return {
    push (record) {
      entries.set(record.requestid, { record, seq: nextSeq++ })
    },
    take () {
      const first = entries.entries().next().value
      if (first == null) return undefined
      entries.delete(first[0])
      dropPassed()
      return first[1].record
    },
    cancel (requestid) {
      const entry = entries.get(requestid)
      if (entry == null) return false
      const wasHead = entry.seq === headSeq()
      entries.delete(requestid)
      if (wasHead) dropPassed()
      else cancelledAhead.splice(countBelow(entry.seq), 0, entry.seq)
      return true
    },
    position (requestid) {
      const entry = entries.get(requestid)
      if (entry == null) return undefined
      return entry.seq - headSeq() - countBelow(entry.seq) + 1
    },
    has (requestid) {
      return entries.has(requestid)
    },
    clear () {
      entries.clear()
      cancelledAhead = []
    },
    get length () {
      return entries.size
    }
  }
}
