/**
 * Counts by key with no entry for zero, so `size`, `has` and iteration say which keys count
 * something: slots per owner, streams and sessions per user, protections per block, bytes per
 * connection. Written once instead of the get-add-delete-at-zero dance in each of those places.
 */
export class Counts<K> extends Map<K, number> {
  /** The count of `key`: 0 when it has none. */
  count (key: K): number {
    return this.get(key) ?? 0
  }

  /** Adds `delta` (negative to take away) and returns the new count; a count that falls to 0 is removed. */
  add (key: K, delta = 1): number {
    const n = this.count(key) + delta
    if (n > 0) this.set(key, n)
    else this.delete(key)
    return Math.max(n, 0)
  }
}
