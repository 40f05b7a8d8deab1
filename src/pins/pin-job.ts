/**
 * One request's part in a fetch, for the pin worker (worker.ts): the contract with the requests' owner (the
 * settler, settle.ts) and the job's fetch from its limit to its blocks made durable. Apart from the pool's
 * queueing and fairness, which is what worker.ts is about.
 */
import { raceSignal } from 'race-signal'
import { BlocksLostError, InsufficientFundsError, StallError, isErrorNamed } from '../errors.js'
import { CancelledError } from './shared-fetch.js'
import { createOriginNotes, type OriginNotes } from './origin-notes.js'
import { formatBytes } from '../byte-size.js'
import type { SharedFetch } from './shared-fetch.js'
import type { DagWalkResult } from './dag-walk.js'
import type { PinRecord } from './types.js'
import type { CID } from 'multiformats/cid'

/** How a fetch ended: the DAG's distinct blocks (durable) and their total size, or why it failed. */
export type FetchOutcome = { blocks: CID[], bytes: number } | { failure: string }

/** The side that owns the requests the worker fetches for: it sets each fetch's limit and decides what it means. */
export interface PinJobs {
  /**
   * Bytes the request's DAG may grow to before its own job fails (Infinity:
   * no limit), asked as the job leaves the queue. A throw fails the job.
   */
  maxBytes(record: PinRecord): Promise<number>
  /** The fetch is still running a moment after it started. */
  fetching(record: PinRecord): void
  /** The fetch ended: decides what that means, and resolves with whether the request counts as pinned or failed. */
  settle(record: PinRecord, outcome: FetchOutcome): Promise<'pinned' | 'failed'>
}

/** One request's part in a fetch. */
export interface Job {
  controller: AbortController
  /** Read when the job starts. */
  record?: PinRecord
  fetch?: SharedFetch
  /** What became of the request's origins (its status and failure say it). */
  origins?: OriginNotes
  /** Fails this job once the fetch grows past its limit. */
  watcher?: (bytes: number) => void
}

/** What a job's fetch needs from the worker. */
export interface JobFetchComponents {
  jobs: Pick<PinJobs, 'maxBytes' | 'fetching'>
  /** Joins (or starts) the fetch of the record's DAG, dialing its origins. */
  join(record: PinRecord, notes: OriginNotes): SharedFetch
  /**
   * Makes every block stored so far durable: a DAG is reported fetched only once it would survive power loss.
   * Throws BlocksLostError if a sync failed after `since` (the fetch's syncFailures): its blocks may be gone.
   */
  flushBlocks(since: number): Promise<void>
}

/** A fetch still running after this long is reported to its jobs as fetching (the request becomes `pinning`). */
const PINNING_AFTER_MS = 100

/** Runs the fetch for `record`: what it delivers, or throws why it failed (the abort reason when aborted). */
export async function fetchForJob (
  record: PinRecord, job: Job, components: JobFetchComponents
): Promise<DagWalkResult> {
  const { jobs } = components
  try {
    job.controller.signal.throwIfAborted()
    const maxBytes = await jobs.maxBytes(record)
    job.controller.signal.throwIfAborted()
    job.origins = createOriginNotes()
    job.fetch = components.join(record, job.origins)
    if (maxBytes !== Infinity) {
      // Only this request fails: others sharing the fetch may have room for the DAG.
      job.watcher = (bytes) => {
        if (bytes <= maxBytes) return
        const left = `${formatBytes(maxBytes)} left of user ${record.owner}'s quota`
        job.controller.abort(new InsufficientFundsError(`storage quota exceeded: the DAG grew past the ${left}`))
      }
      job.fetch.watchers.add(job.watcher)
    }
    const fetching = setTimeout(() => { jobs.fetching(record) }, PINNING_AFTER_MS)
    const result = await raceSignal(job.fetch.done, job.controller.signal).finally(() => { clearTimeout(fetching) })
    await components.flushBlocks(job.fetch.syncFailures)
    return result
  } catch (err) {
    // A failed sync dropped blocks the fetch stored or found: a finished fetch is not joined again.
    if (isErrorNamed(err, BlocksLostError.name)) job.fetch?.controller.abort(err)
    // Helia wraps an aborted block request in its own error: the abort reason says what happened.
    if (job.controller.signal.aborted) throw job.controller.signal.reason
    if (job.fetch?.controller.signal.aborted === true) throw job.fetch.controller.signal.reason
    throw err
  }
}

/** The reason a job is aborted when the worker stops: the request stays as persisted and resumes at the next start. */
export class ShutdownError extends Error {
  static override name = 'ShutdownError'
  override name = ShutdownError.name
}

/**
 * What a fetch that threw reports: why it failed, in words for the person (a stall also says what became of the
 * request's origins, what they can fix); undefined when the job was cancelled (deleted or replaced) or shut down,
 * which report nothing: the record is as persisted.
 */
export function failureOf (cause: unknown, job: Job): { failure: string } | undefined {
  if (isErrorNamed(cause, ShutdownError.name) || isErrorNamed(cause, CancelledError.name)) return undefined
  const stalled = isErrorNamed(cause, StallError.name)
  const known = stalled || isErrorNamed(cause, InsufficientFundsError.name)
  const failure = known ? (cause as Error).message : `fetch failed: ${(cause as Error).message}`
  const origins = stalled ? job.origins?.describe(true) : undefined
  return { failure: origins == null ? failure : `${failure}; ${origins}` }
}
