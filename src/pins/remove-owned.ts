/**
 * Removing every pin request of one user, shared by the service (online:
 * each fetch is cancelled, then the record removed through the lifecycle)
 * and the offline CLI (records only; the service releases the DAGs no
 * request references at its next start).
 */
import { PIN_STATES } from './types.js'
import type { PinIndex } from './query-index.js'

/** Every request ID of `owner`, newest first. */
export function everyRequest (index: Pick<PinIndex, 'query'>, owner: string): string[] {
  return index.query(owner, { statuses: [...PIN_STATES], match: 'exact', limit: Infinity }).requestids
}

/**
 * Calls `remove` for each of `owner`'s requests, one at a time (a user may
 * hold thousands; each removal is a durable write); `remove` answers whether
 * the request was still there. Resolves with how many were removed.
 */
export async function removeEveryRequest (
  index: Pick<PinIndex, 'query'>, owner: string, remove: (requestid: string) => Promise<boolean>
): Promise<number> {
  let removed = 0
  for (const requestid of everyRequest(index, owner)) {
    if (await remove(requestid)) removed++
  }
  return removed
}
