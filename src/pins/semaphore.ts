/**
 * A counting semaphore: caps the block requests in flight across all
 * fetches, so many concurrent pins cannot hold more than a bounded number of
 * blocks in memory at once.
 */

/** Hands out a bounded number of slots. */
export interface Semaphore {
  /** Waits for a slot; rejects if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void>
  release(): void
}

/** Creates a semaphore with `slots` slots. */
export function createSemaphore (slots: number): Semaphore {
  let free = slots
  const waiting: Array<{
    resolve: () => void
    reject: (err: unknown) => void
    signal?: AbortSignal
    onAbort?: () => void
  }> = []
  return {
    async acquire (signal) {
      signal?.throwIfAborted()
      if (free > 0) { free--; return }
      await new Promise<void>((resolve, reject) => {
        const entry: (typeof waiting)[number] = { resolve, reject, signal }
        entry.onAbort = () => {
          const i = waiting.indexOf(entry)
          if (i >= 0) waiting.splice(i, 1)
          reject(signal?.reason)
        }
        signal?.addEventListener('abort', entry.onAbort, { once: true })
        waiting.push(entry)
      })
    },
    release () {
      const next = waiting.shift()
      if (next == null) { free++; return }
      if (next.onAbort != null) next.signal?.removeEventListener('abort', next.onAbort)
      next.resolve()
    }
  }
}
