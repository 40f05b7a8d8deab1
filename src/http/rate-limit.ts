/**
 * Rate limits as token buckets: per user for every authenticated request
 * (shared by all of the user's tokens: per token, minting a new token would
 * reset the limit), and for failed sign-ins per client address and node-wide
 * (sign-in-limit.ts). Over a limit answers 429 with a Failure body and
 * Retry-After.
 */
import { sendFailure } from './errors.js'
import { principalOf } from './auth.js'
import { createKeyedBuckets } from '../token-bucket.js'
import type { RequestHandler } from 'express'

/** Settings of the limit; perSecond 0 turns it off. */
export interface RateLimitInit {
  perSecond: number
  burst: number
}

/** Token buckets by key, refilled at `perSecond` up to `burst`. */
export interface Buckets {
  /** Takes a token from `key`'s bucket: 0 when there was one, else the seconds until there is (none taken). */
  take(key: string): number
  /** Gives back a token taken (what it was taken for did not count after all). */
  giveBack(key: string): void
  /** Keys held now (a full bucket is held as none). */
  readonly size: number
}

/** Settings of {@link createBuckets}. */
export interface BucketsInit extends RateLimitInit {
  /** Most keys held (see KeyedBucketsInit): client addresses are picked by whoever sends the request. */
  maxKeys?: number
}

/** Creates empty buckets (every key's starts full); the refill rule is token-bucket.ts's. */
export function createBuckets (init: BucketsInit): Buckets {
  const buckets = createKeyedBuckets(init)
  return {
    take (key) {
      const bucket = buckets.get(key)
      if (bucket.takeUpTo(1) === 1) return 0
      return Math.max(1, Math.ceil(bucket.msUntil(1) / 1000))
    },
    giveBack (key) {
      const bucket = buckets.peek(key)
      if (bucket == null) return
      bucket.giveBack(1)
      if (bucket.tokens() >= init.burst) buckets.delete(key)
    },
    get size () { return buckets.size }
  }
}

/** The per-user limit of authenticated requests; mounted after authentication. */
export function rateLimit (init: RateLimitInit): RequestHandler {
  const buckets = createBuckets(init)
  return (_req, res, next) => {
    if (init.perSecond <= 0) { next(); return }
    const id = principalOf(res).user
    const retryAfter = buckets.take(id)
    if (retryAfter === 0) { next(); return }
    res.setHeader('Retry-After', String(retryAfter))
    const details = `user ${id} may make ${init.perSecond} requests per second (bursts of ${init.burst}), ` +
      `whichever token they use; retry in ${retryAfter} s`
    sendFailure(res, 429, 'TOO_MANY_REQUESTS', details)
  }
}
