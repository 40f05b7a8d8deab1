/**
 * Serialises async work per key: work on one requestid or one CID runs one
 * at a time, so read-modify-write sequences never interleave.
 */

/** A lock table keyed by string. */
export interface KeyedMutex {
  run<T>(key: string, fn: () => Promise<T>): Promise<T>
}

/** Creates an empty lock table; entries vanish when their queue drains. */
export function createKeyedMutex (): KeyedMutex {
  const tails = new Map<string, Promise<unknown>>()
  return {
    async run (key, fn) {
      const previous = tails.get(key) ?? Promise.resolve()
      const result = previous.then(fn, fn)
      const tail = result.catch(() => {})
      tails.set(key, tail)
      try {
        return await result
      } finally {
        if (tails.get(key) === tail) tails.delete(key)
      }
    }
  }
}
