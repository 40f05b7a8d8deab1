/**
 * The queue of pin requests waiting for a worker, fair between owners: each
 * owner has a FIFO, and owners with queued work take turns (round-robin), so
 * one owner's backlog delays another owner's next request by at most one turn.
 * Push, take, cancel and rename are O(1) for one owner (O(owners) to find whose turn
 * it is); a request's position is the order the worker will take it in.
 *
 * It holds request ids, not records: the record is read when its job starts.
 * A record held from resume until its turn was ~750 bytes of heap; an id is
 * ~130 (its string and two map entries: 13 MiB for 100k resumed requests in
 * a heap snapshot of the 1M-record bench dir).
 */

/** A request waiting in the queue: what ordering and fairness need. */
export interface QueuedPin {
  requestid: string
  owner: string
}

/** The queue of requests waiting for a worker. */
export interface PinQueue {
  push(requestid: string, owner: string): void
  /**
   * Removes and returns the next request of the owner `held` ranks lowest (the slots it holds; Infinity: none
   * for it now), among as low in turn order (all 0 by default); the owner then goes to the back of the turns.
   */
  take(held?: (owner: string) => number): QueuedPin | undefined
  /**
   * Puts a request that was running (restarted, replaced, or run again after a failure) before its owner's
   * other queued ones, it does not wait behind the owner's whole backlog; among such requests, in order of
   * `place` (queuePlace: the order they were taken in, which a restart of the service rebuilds too).
   */
  pushFront(requestid: string, owner: string, place: number): void
  /**
   * Gives queued request `from`'s place to `to`, its replacement: a queued pin restarted or replaced keeps its
   * turn instead of going to the back. Returns false (and does nothing) when `from` is not queued.
   */
  rename(from: string, to: string): boolean
  /** Removes a request; returns whether it was queued. */
  cancel(requestid: string): boolean
  /**
   * 1-based position of a queued request in the order the worker takes them (`held`: the slots each owner
   * holds, as take() is given; none by default), or undefined.
   */
  position(requestid: string, held?: (owner: string) => number): number | undefined
  has(requestid: string): boolean
  /** How many owners have at least one queued request. */
  readonly owners: number
  /** True when `owner` has at least one queued request. */
  hasOwner(owner: string): boolean
  clear(): void
  readonly length: number
}

/**
 * One owner's FIFO: a queue position that stays exact under cancellations
 * (each entry has a sequence number; cancelled numbers still ahead of the
 * head are subtracted).
 */
class Fifo {
  // A Map iterates in insertion order: its first entry is the head. Slot (the request id it was pushed
  // with) → sequence number.
  readonly entries = new Map<string, number>()
  // A replacement holds the slot of the request it replaced: its id → the slot, and the slot → its id. Moving
  // the entry to the new key would send it to the Map's end, and rebuilding the Map costs the owner's backlog.
  private readonly slotOf = new Map<string, string>()
  private readonly holderOf = new Map<string, string>()
  // The entries put in front (slot → place), always a prefix of `entries`: a few, for requests that were running.
  private readonly fronted = new Map<string, number>()
  private nextSeq = 0
  private cancelledAhead: number[] = [] // ascending sequence numbers of cancelled entries

  /** The owner's string, once for all of its requests (each parsed record had a copy). */
  constructor (readonly owner: string) {}

  private headSeq (): number { return this.entries.values().next().value ?? this.nextSeq }
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

  push (requestid: string): void { this.entries.set(requestid, this.nextSeq++) }

  /**
   * After the entries put in front with an earlier place, before the rest. Rebuilds the Map, numbered afresh
   * (so no cancelled number is counted any more): O(backlog), for a request that was running.
   */
  pushFront (requestid: string, place: number): void {
    const rest = [...this.entries.keys()]
    this.entries.clear()
    this.cancelledAhead = []
    this.nextSeq = 0
    let i = 0
    while (i < rest.length && (this.fronted.get(rest[i] as string) ?? Infinity) <= place) this.push(rest[i++] as string)
    this.push(requestid)
    this.fronted.set(requestid, place)
    while (i < rest.length) this.push(rest[i++] as string)
  }

  /** `to` takes queued `from`'s slot. */
  rename (from: string, to: string): void {
    const slot = this.slotOf.get(from) ?? from
    this.slotOf.delete(from)
    this.slotOf.set(to, slot)
    this.holderOf.set(slot, to)
  }

  /** The request holding `slot` now, forgetting the slot. */
  private release (slot: string): string {
    const holder = this.holderOf.get(slot)
    if (holder == null) return slot
    this.holderOf.delete(slot)
    this.slotOf.delete(holder)
    return holder
  }

  take (): string | undefined {
    const first = this.entries.keys().next().value
    if (first == null) return undefined
    this.entries.delete(first)
    this.fronted.delete(first)
    this.dropPassed()
    return this.holderOf.size === 0 ? first : this.release(first)
  }

  cancel (requestid: string): boolean {
    const slot = this.slotOf.get(requestid) ?? requestid
    const seq = this.entries.get(slot)
    if (seq == null) return false
    const wasHead = seq === this.headSeq()
    this.entries.delete(slot)
    this.fronted.delete(slot)
    this.release(slot)
    if (wasHead) this.dropPassed()
    else this.cancelledAhead.splice(this.countBelow(seq), 0, seq)
    return true
  }

  /** 1-based position within this FIFO. */
  position (requestid: string): number | undefined {
    const seq = this.entries.get(this.slotOf.get(requestid) ?? requestid)
    if (seq == null) return undefined
    return seq - this.headSeq() - this.countBelow(seq) + 1
  }
}

/** Creates an empty queue. */
export function createPinQueue (): PinQueue {
  // Owners with queued work in turn order: the first one goes next.
  const turns = new Map<string, Fifo>()
  // Each queued request's owner FIFO (which is in `turns` while it holds any).
  const fifoOf = new Map<string, Fifo>()

  /**
   * `owner`'s FIFO; one with nothing queued gets one at the front of the turns: among owners holding as many
   * slots it goes first (the others took their turns already), as a newcomer's pin should. At the back, it
   * waited for each of them to take one more slot. O(owners with queued work), once per owner's first.
   */
  function fifoFor (owner: string): Fifo {
    let fifo = turns.get(owner)
    if (fifo != null) return fifo
    fifo = new Fifo(owner)
    const rest = [...turns.values()]
    turns.clear()
    turns.set(owner, fifo)
    for (const other of rest) turns.set(other.owner, other)
    return fifo
  }

  return {
    push (requestid, owner) {
      const fifo = fifoFor(owner)
      fifo.push(requestid)
      fifoOf.set(requestid, fifo)
    },
    pushFront (requestid, owner, place) {
      const fifo = fifoFor(owner)
      fifo.pushFront(requestid, place)
      fifoOf.set(requestid, fifo)
    },
    rename (from, to) {
      const fifo = fifoOf.get(from)
      if (fifo == null || fifoOf.has(to)) return false
      fifo.rename(from, to)
      fifoOf.delete(from)
      fifoOf.set(to, fifo)
      return true
    },
    take (held) {
      let next: Fifo | undefined
      let least = Infinity
      for (const fifo of turns.values()) {
        const n = held == null ? 0 : held(fifo.owner)
        if (n < least) { next = fifo; least = n }
        if (least === 0) break // none holds fewer: the first in turn order with none goes
      }
      if (next == null) return undefined
      const requestid = next.take() as string
      fifoOf.delete(requestid)
      // To the back of the turn order (or out, when this was its last).
      turns.delete(next.owner)
      if (next.entries.size > 0) turns.set(next.owner, next)
      return { requestid, owner: next.owner }
    },
    cancel (requestid) {
      const fifo = fifoOf.get(requestid)
      if (fifo == null) return false
      fifoOf.delete(requestid)
      fifo.cancel(requestid)
      if (fifo.entries.size === 0) turns.delete(fifo.owner)
      return true
    },
    position (requestid, held) {
      const mine = fifoOf.get(requestid)
      const k = mine?.position(requestid)
      if (mine == null || k == null) return undefined
      // An owner's j-th queued request goes when the owner holds (held + j - 1) slots, its level: those of other
      // owners at a lower level go first. At the same level an owner that started there (held that many) goes
      // before those that took their way up (each went to the back of the turns as it took), so: an owner
      // holding more goes first, among as many the one ahead in the turn order.
      const mineHeld = held?.(mine.owner) ?? 0
      const level = mineHeld + k - 1
      let ahead = 0
      let earlier = true
      for (const fifo of turns.values()) {
        if (fifo === mine) { earlier = false; continue }
        const theirs = held?.(fifo.owner) ?? 0
        const before = theirs > mineHeld || (theirs === mineHeld && earlier)
        ahead += Math.min(fifo.entries.size, Math.max(0, level - theirs + (before ? 1 : 0)))
      }
      return ahead + k
    },
    has (requestid) {
      return fifoOf.has(requestid)
    },
    get owners () {
      return turns.size
    },
    hasOwner (owner) {
      return turns.has(owner)
    },
    clear () {
      turns.clear()
      fifoOf.clear()
    },
    get length () {
      return fifoOf.size
    }
  }
}
