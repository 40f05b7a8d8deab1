/**
 * Token buckets, the one refill rule behind Pinery's rate limits: HTTP requests per user and failed sign-ins
 * per address (http/rate-limit.ts), and what a bitswap peer's address may make the node read — wantlist
 * entries and inbound bytes (node/lean-bitswap/inbound-budget.ts). Each wrote the same formula before.
 *
 * Hand-written, not a library: the uses need a bucket that may go into debt (bytes are counted after they
 * arrived, and the stream is paused until the debt is paid), takes "as many as there are" (a wantlist is cut
 * where the budget ends), and is kept by keys an attacker picks, bounded least recently used first. The
 * packages that fit none of that (`limiter`'s RateLimiter waits on timers and holds no keys; `rate-limiter-
 * flexible` is a store-backed framework of its own) would each be wrapped in as many lines as these.
 */

/** A rate and the most a bucket holds. */
export interface TokenBucketInit {
  /** Tokens added per second. */
  perSecond: number
  /** Most tokens held; a new bucket starts full. */
  burst: number
}

/** Milliseconds on some monotonic clock (performance.now unless a test gives its own). */
export type Clock = () => number

/** One bucket. */
export interface TokenBucket {
  /** Tokens held now, refilled to this moment: below 0 while in debt. */
  tokens(): number
  /** Takes as many of `n` whole tokens as are held (none into debt); returns how many. */
  takeUpTo(n: number): number
  /** Takes `n` tokens whether held or not: the bucket may go into debt. */
  charge(n: number): void
  /** Gives `n` tokens back, up to the burst. */
  giveBack(n: number): void
  /** Milliseconds until the bucket holds `level` tokens (0 when it does now; Infinity at a rate of 0). */
  msUntil(level: number): number
}

/** Creates a full bucket. */
export function createTokenBucket (init: TokenBucketInit, clock: Clock = () => performance.now()): TokenBucket {
  const { perSecond, burst } = init
  let tokens = burst
  let at = clock()
  const refill = (): number => {
    const now = clock()
    tokens = Math.min(burst, tokens + (now - at) / 1000 * perSecond)
    at = now
    return tokens
  }
  return {
    tokens: refill,
    takeUpTo (n) {
      const granted = Math.max(0, Math.min(n, Math.floor(refill())))
      tokens -= granted
      return granted
    },
    charge (n) { refill(); tokens -= n },
    giveBack (n) { tokens = Math.min(burst, refill() + n) },
    msUntil (level) {
      const missing = level - refill()
      if (missing <= 0) return 0
      return perSecond > 0 ? missing / perSecond * 1000 : Number.POSITIVE_INFINITY
    }
  }
}

/** Settings of {@link createKeyedBuckets}. */
export interface KeyedBucketsInit extends TokenBucketInit {
  /**
   * Most keys held; the one used least recently goes first (its bucket starts full again). Keys an attacker
   * picks (client addresses) need it: without, each new one is held for good.
   */
  maxKeys?: number
}

/** Buckets by key, each created full on first use. */
export interface KeyedBuckets {
  /** The key's bucket (created full when not held); it becomes the most recently used. */
  get(key: string): TokenBucket
  /** The key's bucket when held (not counted as a use). */
  peek(key: string): TokenBucket | undefined
  /** Forgets the key (a full bucket needs no keeping: a new one starts full). */
  delete(key: string): void
  /** Keys held now. */
  readonly size: number
}

/** Creates empty keyed buckets. */
export function createKeyedBuckets (init: KeyedBucketsInit, clock: Clock = () => performance.now()): KeyedBuckets {
  const maxKeys = init.maxKeys ?? Number.POSITIVE_INFINITY
  // Map order is insertion order: re-inserting on every use keeps the least recently used first.
  const buckets = new Map<string, TokenBucket>()
  return {
    get (key) {
      const bucket = buckets.get(key) ?? createTokenBucket(init, clock)
      buckets.delete(key)
      buckets.set(key, bucket)
      while (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value as string)
      return bucket
    },
    peek: (key) => buckets.get(key),
    delete (key) { buckets.delete(key) },
    get size () { return buckets.size }
  }
}
