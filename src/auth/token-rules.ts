/**
 * Rules about the tokens a token creates: they expire no later than their
 * creator, and revoking a token revokes what it created for its own user.
 */
import { InvalidRequestError } from '../errors.js'
import type { TokenInfo, TokenOptions } from './index.js'

/**
 * The tokens to revoke with `root`: it and, transitively, every token of the
 * same user created by one of them (tokens an admin created for another
 * user stay: they were that admin's decision for that user).
 */
export function descendants (
  root: string,
  tokens: Array<Pick<TokenInfo, 'id' | 'createdBy' | 'createdByUser'>>
): Set<string> {
  const found = new Set([root])
  for (let grew = true; grew;) {
    grew = false
    for (const t of tokens) {
      if (t.createdBy == null || t.createdByUser != null || found.has(t.id) || !found.has(t.createdBy)) continue
      found.add(t.id)
      grew = true
    }
  }
  return found
}

/** The expiry of a new token: at most its creator's, and the creator's when none is asked for. */
export function boundedExpiry (options: TokenOptions): Date | undefined {
  const creator = options.creator
  const limit = creator == null || creator === 'offline' || creator.expires == null ? undefined : creator.expires
  if (limit == null) return options.expires
  if (options.expires == null) return new Date(limit)
  if (options.expires.getTime() > Date.parse(limit)) {
    throw new InvalidRequestError(`expires: may be no later than ${limit}, when the token creating it expires`)
  }
  return options.expires
}
