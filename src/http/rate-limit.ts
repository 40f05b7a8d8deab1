/**
 * A per-user rate limit: a token bucket for each user, refilled at
 * `perSecond` up to `burst`, shared by all of the user's tokens (per token,
 * minting a new token would reset the limit). Over the limit answers 429
 * with a Failure body and Retry-After. Mounted after authentication.
 */
import { sendFailure } from './errors.js'
import { principalOf } from './auth.js'
import type { RequestHandler } from 'express'

/** Settings of the limit; perSecond 0 turns it off. */
export interface RateLimitInit {
  perSecond: number
  burst: number
}

/** Builds the middleware. */
export function rateLimit (init: RateLimitInit): RequestHandler {
  const buckets = new Map<string, { tokens: number, at: number }>()
  return (_req, res, next) => {
    if (init.perSecond <= 0) { next(); return }
    const id = principalOf(res).user
    const now = performance.now()
    const bucket = buckets.get(id) ?? { tokens: init.burst, at: now }
    bucket.tokens = Math.min(init.burst, bucket.tokens + (now - bucket.at) / 1000 * init.perSecond)
    bucket.at = now
    buckets.set(id, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      next()
      return
    }
    const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / init.perSecond))
    res.setHeader('Retry-After', String(retryAfter))
    const details = `user ${id} may make ${init.perSecond} requests per second (bursts of ${init.burst}), ` +
      `whichever token they use; retry in ${retryAfter} s`
    sendFailure(res, 429, 'TOO_MANY_REQUESTS', details)
  }
}
