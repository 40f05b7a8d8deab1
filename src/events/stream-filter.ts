/**
 * Narrowing an event stream to some event types and some requests (GET /events?types=…&requestid=…).
 */
import type { LoggedEvent } from './event-log.js'

/**
 * What a stream is narrowed to, for a client waiting on a few requests (a CI job that pinned a build):
 * before, it followed every event of its user, or polled GET /pins/{requestid}.
 */
export interface StreamFilter {
  /** Only events of these types. */
  types?: ReadonlySet<string>
  /**
   * Only events of these requests, and of the requests that replace them: a pin.replaced event of one adds
   * its `replaced_by`, so a client waiting for a pin to settle still sees it settle after a Restart or Retry.
   */
  requests?: ReadonlySet<string>
}

/** A stream's filter as it runs: the requests it follows grow with their replacements. */
export interface ActiveFilter {
  types?: ReadonlySet<string>
  requests?: Set<string>
}

/** The running form of `filter` (its own copy of the requests, which grows). */
export function activeFilter (filter: StreamFilter): ActiveFilter {
  return {
    ...(filter.types != null ? { types: filter.types } : {}),
    ...(filter.requests != null ? { requests: new Set(filter.requests) } : {})
  }
}

/** Whether `e` passes `filter`; a pin.replaced event of a followed request has its replacement followed too. */
export function passes (filter: ActiveFilter, e: LoggedEvent): boolean {
  if (filter.requests != null) {
    if (!filter.requests.has(e.event.pin.requestid)) return false
    if (e.event.replaced_by != null) filter.requests.add(e.event.replaced_by)
  }
  return filter.types == null || filter.types.has(e.event.type)
}
