/**
 * When a pin job runs again instead of ending (the worker's retry policy, apart from its queueing in
 * worker.ts): after a failed block sync dropped blocks it relied on (BlocksLostError), and after its outcome
 * could not be written. Either way the request was acknowledged and running: it goes back before its owner's
 * queued pins (`requeue`), as a running pin restarted by hand does, not behind the owner's whole backlog.
 */
import { BlocksLostError, isErrorNamed } from '../errors.js'
import { Counts } from '../counts.js'
import type { PinRecord } from './types.js'
import type { Logger } from '../logger.js'

/** What the worker asks when a job could not end. */
export interface JobRetries {
  /**
   * True when the job is to run again from scratch (it reports nothing): `cause` is a BlocksLostError and the
   * request has not used up its retries. The caller requeues it once its slot is free.
   */
  fetchAgain(requestid: string, cause: unknown): boolean
  /** The job reached an outcome: its retries start afresh. */
  ended(requestid: string): void
  /** The outcome of `record` could not be written: it is requeued after a pause. */
  settleFailed(record: PinRecord, err: unknown): void
}

/** What the retries need. */
export interface JobRetriesComponents {
  /** Puts a request back before its owner's queued pins (a no-op once stopped, or when queued or running). */
  requeue(record: PinRecord): void
  logger: Logger
}

/** A pin whose outcome could not be written runs again after this long (its blocks are mostly stored by then). */
const SETTLE_RETRY_MS = 5000

/**
 * Times a pin runs again from scratch after a failed block sync dropped blocks it relied on (BlocksLostError):
 * a disk that failed once may work again (a transient I/O error); one failing every time fails the pin.
 */
const BLOCKS_LOST_RETRIES = 2

/** Creates the policy. */
export function createJobRetries (components: JobRetriesComponents): JobRetries {
  const log = components.logger.child({ component: 'worker' })
  const lostBlocks = new Counts<string>() // requests run again after BlocksLostError, and how often

  return {
    fetchAgain (requestid, cause) {
      if (!isErrorNamed(cause, BlocksLostError.name) || lostBlocks.add(requestid) > BLOCKS_LOST_RETRIES) return false
      log.warn({ requestid, err: cause }, 'a block sync failed under this pin: fetching its DAG again')
      return true
    },
    ended (requestid) {
      lostBlocks.delete(requestid)
    },
    settleFailed (record, err) {
      // Neither outcome could be written (a full disk): the request would stay pending until a restart.
      log.error({ err, requestid: record.requestid }, 'cannot record how a pin ended; it runs again later')
      setTimeout(() => { components.requeue(record) }, SETTLE_RETRY_MS).unref()
    }
  }
}
