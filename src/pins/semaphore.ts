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

/** A semaphore whose waiters are served in lanes that take turns (round-robin). */
export interface SharedSemaphore extends Semaphore {
  /** The lane `key` (an owner): its waiters are FIFO, and take turns with other lanes' for slots. */
  lane(key: string): Semaphore
}

interface Waiter {
  resolve: () => void
  reject: (err: unknown) => void
  signal?: AbortSignal
  onAbort?: () => void
}

/** Creates a semaphore with `slots` slots; acquire() on it waits in a lane of its own. */
export function createSemaphore (slots: number): SharedSemaphore {
  let free = slots
  // Lanes with waiters in turn order: the first one is served next, then goes to the back.
  const turns = new Map<unknown, Waiter[]>()

  async function acquire (lane: unknown, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    if (free > 0) { free--; return }
    await new Promise<void>((resolve, reject) => {
      const entry: Waiter = { resolve, reject, signal }
      entry.onAbort = () => {
        const waiting = turns.get(lane) ?? []
        const i = waiting.indexOf(entry)
        if (i >= 0) waiting.splice(i, 1)
        if (waiting.length === 0) turns.delete(lane)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', entry.onAbort, { once: true })
      const waiting = turns.get(lane)
      if (waiting == null) turns.set(lane, [entry])
      else waiting.push(entry)
    })
  }

  function release (): void {
    const first = turns.entries().next().value
    if (first == null) { free++; return }
    const [lane, waiting] = first
    const next = waiting.shift() as Waiter
    turns.delete(lane)
    if (waiting.length > 0) turns.set(lane, waiting)
    if (next.onAbort != null) next.signal?.removeEventListener('abort', next.onAbort)
    next.resolve()
  }

  const own = Symbol('own lane')
  return {
    acquire: async (signal) => { await acquire(own, signal) },
    release,
    lane (key) {
      return { acquire: async (signal) => { await acquire(key, signal) }, release }
    }
  }
}
