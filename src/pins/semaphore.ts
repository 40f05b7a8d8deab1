/**
 * A counting semaphore: caps the block requests in flight across all
 * fetches, so many concurrent pins cannot hold more than a bounded number of
 * blocks in memory at once.
 *
 * Waiters are served in lanes, one per owner (`lane(owner)`), that take
 * turns: an owner with many requests waiting (each of its fetches keeps up
 * to the whole cap waiting) does not make another owner's one request wait
 * behind them all. With one FIFO, one owner's burst of wide fetches put every
 * other owner's block requests behind thousands of its own, block after block
 * (each new request joined the back again): the worker's fair queue gave the
 * other owner a slot at once, and its fetch then waited out the burst anyway
 * (test/pins/fair.test.ts: 15 fetches of 4 waiting requests each and 4 slots,
 * another owner's 2-block pin took 13.6 s, 3.1 s with a lane per fetch,
 * where it still waited for one grant to each of the 15).
 */

/** Hands out a bounded number of slots. */
export interface Semaphore {
  /** Waits for a slot; rejects if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void>
  release(): void
}

/**
 * Waiters of several lanes at once (a fetch several owners' requests share): each waits in the lane of every key
 * joined, and is served at the first of their turns. In its starter's lane alone, one owner's request waited
 * behind another owner's backlog (test/pins/fetch-lanes.test.ts: ~19 s a block behind 76 waiting requests),
 * and on in that lane once the starter's request was deleted.
 */
export interface SharedLane extends Semaphore {
  /** Takes a free slot if there is one, at once (acquire() would too, a tick later). */
  tryAcquire(): boolean
  /** Adds `key`'s lane (counted: as often joined as left); waiting requests wait there too from now on. */
  join(key: string): void
  /** Leaves `key`'s lane once as often left as joined: waiting requests no longer wait there. */
  leave(key: string): void
}

/** A semaphore whose waiters are served in lanes that take turns (round-robin). */
export interface SharedSemaphore extends Semaphore {
  /** The lane `key` (an owner): its waiters are FIFO, and take turns with other lanes' for slots. */
  lane(key: string): Semaphore
  /** Waiters in the lanes of the keys it joins (none yet). */
  shared(): SharedLane
}

interface Waiter {
  resolve: () => void
  reject: (err: unknown) => void
  /** The lanes it waits in (a shared lane's: its keys, as they change). */
  lanes: Iterable<unknown>
  /** A shared lane's waiting requests, which it is one of until served or aborted. */
  shared?: Set<Waiter>
  signal?: AbortSignal
  onAbort?: () => void
}

/** Creates a semaphore with `slots` slots; acquire() on it waits in a lane of its own. */
export function createSemaphore (slots: number): SharedSemaphore {
  let free = slots
  // Lanes with waiters in turn order: the first one is served next, then goes to the back.
  const turns = new Map<unknown, Waiter[]>()

  function enter (lane: unknown, entry: Waiter): void {
    const waiting = turns.get(lane)
    if (waiting == null) turns.set(lane, [entry])
    else waiting.push(entry)
  }

  /** Takes `entry` out of `lane`'s waiters. */
  function exit (lane: unknown, entry: Waiter): void {
    const waiting = turns.get(lane)
    const i = waiting?.indexOf(entry) ?? -1
    if (waiting == null || i < 0) return
    waiting.splice(i, 1)
    if (waiting.length === 0) turns.delete(lane)
  }

  async function acquire (lanes: Iterable<unknown>, signal?: AbortSignal, shared?: Set<Waiter>): Promise<void> {
    signal?.throwIfAborted()
    if (free > 0) { free--; return }
    await new Promise<void>((resolve, reject) => {
      const entry: Waiter = { resolve, reject, signal, lanes, shared }
      entry.onAbort = () => {
        for (const lane of entry.lanes) exit(lane, entry)
        shared?.delete(entry)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', entry.onAbort, { once: true })
      for (const lane of lanes) enter(lane, entry)
      shared?.add(entry)
    })
  }

  function release (): void {
    const first = turns.entries().next().value
    if (first == null) { free++; return }
    const [lane, waiting] = first
    const next = waiting.shift() as Waiter
    turns.delete(lane)
    if (waiting.length > 0) turns.set(lane, waiting)
    if (next.shared != null) {
      next.shared.delete(next)
      for (const other of next.lanes) if (other !== lane) exit(other, next)
    }
    if (next.onAbort != null) next.signal?.removeEventListener('abort', next.onAbort)
    next.resolve()
  }

  const own = [Symbol('own lane')]
  return {
    acquire: async (signal) => { await acquire(own, signal) },
    release,
    lane (key) {
      const lanes = [key]
      return { acquire: async (signal) => { await acquire(lanes, signal) }, release }
    },
    shared () {
      const keys = new Map<string, number>()
      const lanes = { [Symbol.iterator]: () => keys.keys() }
      // Each in the lane of every key joined, as long as it waits.
      const waiting = new Set<Waiter>()
      return {
        acquire: async (signal) => { await acquire(lanes, signal, waiting) },
        tryAcquire: () => free > 0 && free-- > 0,
        release,
        join (key) {
          const n = keys.get(key) ?? 0
          keys.set(key, n + 1)
          if (n === 0) for (const entry of waiting) enter(key, entry)
        },
        leave (key) {
          const n = (keys.get(key) ?? 0) - 1
          if (n > 0) { keys.set(key, n); return }
          keys.delete(key)
          for (const entry of waiting) exit(key, entry)
        }
      }
    }
  }
}
