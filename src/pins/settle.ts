/**
 * What a pin request's fetch means: the decisions the worker does not make.
 * The worker only runs fetches and reports how they ended; this module turns
 * that into state. It settles a request whose DAG is pinned already without a
 * fetch, gives each fetch its byte limit (what is left of the owner's quota),
 * checks the quota once more when a DAG settles, pins it and moves the record
 * through the lifecycle, and lets go of a DAG whose request was deleted
 * meanwhile. The shape of IPFS Cluster's pin tracker: the tracker executes,
 * state lives here.
 */
import { InsufficientFundsError, isErrorNamed } from '../errors.js'
import type { PinRecord } from './types.js'
import type { RequestPins } from './request-pins.js'
import type { PinLifecycle } from './lifecycle.js'
import type { Quota, QuotaWant } from './quota.js'
import type { FetchOutcome, PinJobs } from './worker.js'
import type { Logger } from '../logger.js'

/** The service side of the worker's jobs, and the settling of requests that need no fetch. */
export interface PinSettler extends PinJobs {
  /**
   * Settles a new queued record at once when its DAG is pinned already (no
   * fetch): pinned, or failed when it does not fit the owner's quota. Resolves
   * with the settled record, or undefined when the DAG must be fetched.
   */
  settlePinned(record: PinRecord): Promise<PinRecord | undefined>
}

/** What settling needs. */
export interface PinSettlerComponents {
  lifecycle: PinLifecycle
  /** The budget a fetch may grow to, and the check when it settles. */
  quota: Pick<Quota, 'admit' | 'remaining'>
  content: Pick<RequestPins, 'pin' | 'release' | 'pinnedSize'>
  logger: Logger
}

/**
 * What a request settling with a DAG of `bytes` asks of its owner's quota: it
 * counts already, and lets go of what it holds.
 */
function settling (record: PinRecord, bytes: number): QuotaWant {
  return { cidKey: record.cidKey, bytes, counted: true, ...(record.holds != null ? { frees: record.holds } : {}) }
}

/** What a log line says about a request. */
function about (record: PinRecord): { requestid: string, cid: string } {
  return { requestid: record.requestid, cid: record.pin.cid }
}

/** Creates the settler. */
export function createPinSettler (components: PinSettlerComponents): PinSettler {
  const { lifecycle, quota, content } = components
  const log = components.logger.child({ component: 'settle' })

  async function fail (record: PinRecord, failure: string): Promise<'failed'> {
    log.warn({ ...about(record), reason: failure }, 'pin failed')
    await lifecycle.transition(record, 'failed', { failure })
    return 'failed'
  }

  return {
    async settlePinned (record) {
      // The record is written, so it references its CID: a release from now on keeps the pin, and
      // pinnedSize waits for one that started before (and then reports the pin gone).
      const dagSize = await content.pinnedSize(record.cidKey)
      if (dagSize == null) return undefined
      // Checked again under the owner's lock: requests admitted at the same time are all charged by now.
      try {
        const transition = async (): Promise<PinRecord | undefined> =>
          await lifecycle.transition(record, 'pinned', { dagSize })
        return await quota.admit(record.owner, settling(record, dagSize), transition)
      } catch (err) {
        if (!isErrorNamed(err, InsufficientFundsError.name)) throw err
        return await lifecycle.transition(record, 'failed', { failure: err.message }) ?? record
      }
    },

    async maxBytes (record) {
      return await quota.remaining(record.owner, record.cidKey, record.holds)
    },

    fetching (record) {
      // Only from queued (a resumed request may be pinning already). The worker asks only once a fetch
      // has run a moment, so one that ends quickly goes straight to pinned: one write fewer per small pin.
      if (record.status !== 'queued') return
      void lifecycle.transition(record, 'pinning').catch(err => {
        log.warn({ err, requestid: record.requestid }, 'cannot mark pinning')
      })
    },

    async settle (record, outcome: FetchOutcome) {
      if ('failure' in outcome) return await fail(record, outcome.failure)
      const { blocks, bytes } = outcome
      let settled: PinRecord | undefined
      try {
        // Checked again with the final size: other pins of the owner may have settled meanwhile.
        settled = await quota.admit(record.owner, settling(record, bytes), async () => {
          await content.pin(record.cidKey, blocks, bytes)
          return await lifecycle.transition(record, 'pinned', { dagSize: bytes })
        })
      } catch (err) {
        const quotaExceeded = isErrorNamed(err, InsufficientFundsError.name)
        return await fail(record, quotaExceeded ? err.message : `fetch failed: ${(err as Error).message}`)
      }
      // Deleted while we pinned: the deletion's release saw no pin yet, so release again.
      if (settled == null) await content.release([record.cidKey])
      else log.info({ ...about(record), dagSize: bytes, blocks: blocks.length }, 'pinned')
      return 'pinned'
    }
  }
}
