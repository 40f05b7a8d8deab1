/**
 * The queue of pin requests waiting for a worker, fair between owners: each
 * owner has a FIFO, and owners with queued work take turns (round-robin), so
 * one owner's backlog delays another owner's next request by at most one turn.
 * Push, take and cancel are O(1) for one owner (O(owners) to find whose turn
 * it is); a request's position is the order the worker will take it in.
 */
import type { PinRecord } from './types.js'

/** The queue of records waiting for a worker. */
export interface PinQueue {
  push(record: PinRecord): void
  /**
   * Removes and returns the next record in turn whose owner `eligible` accepts
   * (all by default); the owner then goes to the back of the turn order.
   */
  take(eligible?: (owner: string) => boolean): PinRecord | undefined
  /** Removes a record; returns whether it was queued. */
  cancel(requestid: string): boolean
  /** 1-based position of a queued record in the order the worker takes records, or undefined. */
  position(requestid: string): number | undefined
  has(requestid: string): boolean
  /** Owners with at least one queued record. */
  owners(): IterableIterator<string>
  clear(): void
  readonly length: number
}

/**
 * One owner's FIFO: a queue position that stays exact under cancellations
 * (each entry has a sequence number; cancelled numbers still ahead of the
 * head are subtracted).
 */
class Fifo {
  // A Map iterates in insertion order: its first entry is the head.
  readonly entries = new Map<string, { record: PinRecord, seq: number }>()
  private nextSeq = 0
  private cancelledAhead: number[] = [] // ascending sequence numbers of cancelled entries

  private headSeq (): number { return this.entries.values().next().value?.seq ?? this.nextSeq }
  private dropPassed (): void {
    const head = this.headSeq()
    let i = 0
    while (i < this.cancelledAhead.length && (this.cancelledAhead[i] as number) < head) i++
    if (i > 0) this.cancelledAhead = this.cancelledAhead.slice(i)
  }

  private countBelow (seq: number): number {
    let lo = 0
    let hi = this.cancelledAhead.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.cancelledAhead[mid] as number) < seq) lo = mid + 1; else hi = mid
    }
    return lo
  }

  push (record: PinRecord): void { this.entries.set(record.requestid, { record, seq: this.nextSeq++ }) }

  take (): PinRecord | undefined {
    const first = this.entries.entries().next().value
    if (first == null) return undefined
    this.entries.delete(first[0])
    this.dropPassed()
    return first[1].record
  }

  cancel (requestid: string): boolean {
    const entry = this.entries.get(requestid)
    if (entry == null) return false
    const wasHead = entry.seq === this.headSeq()
    this.entries.delete(requestid)
    if (wasHead) this.dropPassed()
    else this.cancelledAhead.splice(this.countBelow(entry.seq), 0, entry.seq)
    return true
  }

  /** 1-based position within this FIFO. */
  position (requestid: string): number | undefined {
    const entry = this.entries.get(requestid)
    if (entry == null) return undefined
    return entry.seq - this.headSeq() - this.countBelow(entry.seq) + 1
  }
}

/** Creates an empty queue. */
export function createPinQueue (): PinQueue {
  // Owners with queued work in turn order: the first one goes next.
  const turns = new Map<string, Fifo>()
  const ownerOf = new Map<string, string>()

  return {
    push (record) {
      let fifo = turns.get(record.owner)
      if (fifo == null) { fifo = new Fifo(); turns.set(record.owner, fifo) }
      fifo.push(record)
      ownerOf.set(record.requestid, record.owner)
    },
    take (eligible) {
      for (const [owner, fifo] of turns) {
        if (eligible != null && !eligible(owner)) continue
        const record = fifo.take() as PinRecord
        ownerOf.delete(record.requestid)
        // To the back of the turn order (or out, when this was its last).
        turns.delete(owner)
        if (fifo.entries.size > 0) turns.set(owner, fifo)
        return record
      }
      return undefined
    },
    cancel (requestid) {
      const owner = ownerOf.get(requestid)
      const fifo = owner == null ? undefined : turns.get(owner)
      if (owner == null || fifo == null) return false
      ownerOf.delete(requestid)
      fifo.cancel(requestid)
      if (fifo.entries.size === 0) turns.delete(owner)
      return true
    },
    position (requestid) {
      const owner = ownerOf.get(requestid)
      const k = owner == null ? undefined : turns.get(owner)?.position(requestid)
      if (k == null) return undefined
      // Turn k of each owner comes in turn order: every other owner's first k-1 records go first,
      // and the k-th of those ahead in the turn order.
      let ahead = 0
      let before = true
      for (const [other, fifo] of turns) {
        if (other === owner) { before = false; continue }
        ahead += Math.min(fifo.entries.size, before ? k : k - 1)
      }
      return ahead + k
    },
    has (requestid) {
      return ownerOf.has(requestid)
    },
    owners () {
      return turns.keys()
    },
    clear () {
      turns.clear()
      ownerOf.clear()
    },
    get length () {
      return ownerOf.size
    }
  }
}
