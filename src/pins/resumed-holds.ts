/**
 * What requests resumed at start hold already: before the collector starts, each pending request's
 * stored blocks (its DAG, and the DAGs it holds during a replace) are protected, since they may
 * exist nowhere else; they stay protected until that request's job ends or it is cancelled.
 * Held as the guard's block keys (72 bytes each), and only for requests holding blocks (an entry
 * for each of 100k requests is ~8 MiB).
 */
import { cidOfKey, protectStoredDag, type LocalDagComponents } from './local-dag.js'
import type { GcGuard } from './gc-guard.js'
import type { PinRecord } from './types.js'

/** Requests protected at once: one file system call after another took seconds for 100k requests. */
const RESUME_BATCH = 64

/** The protections of resumed requests, by request id. */
export interface ResumedHolds {
  /** Protects each record's stored blocks, a batch at a time; `each` runs for every record, in order, once held. */
  protect(records: AsyncIterable<PinRecord>, each: (record: PinRecord) => void): Promise<void>
  /** Ends one request's protection (its job ended, or it was cancelled). */
  release(requestid: string): void
  releaseAll(): void
}

/** What it protects with. */
export interface ResumedHoldsComponents {
  stored: Omit<LocalDagComponents, 'guard'>
  guard: Pick<GcGuard, 'unprotectKey'> & LocalDagComponents['guard']
}

/** Creates the (empty) protections of resumed requests. */
export function createResumedHolds (components: ResumedHoldsComponents): ResumedHolds {
  const { guard } = components
  const held = new Map<string, string[]>()
  const release = (requestid: string): void => {
    for (const key of held.get(requestid) ?? []) guard.unprotectKey(key)
    held.delete(requestid)
  }

  return {
    async protect (records, each) {
      let batch: Array<{ record: PinRecord, keys: Promise<string[]> }> = []
      const drain = async (): Promise<void> => {
        const keys = await Promise.all(batch.map(b => b.keys))
        batch.forEach(({ record }, i) => {
          if ((keys[i] as string[]).length > 0) held.set(record.requestid, keys[i] as string[])
          each(record)
        })
        batch = []
      }
      for await (const record of records) {
        const roots = [record.cidKey, ...(record.holds ?? [])].map(cidOfKey)
        batch.push({ record, keys: protectStoredDag(roots, { ...components.stored, guard }) })
        if (batch.length >= RESUME_BATCH) await drain()
      }
      await drain()
    },
    release,
    releaseAll () {
      for (const requestid of [...held.keys()]) release(requestid)
    }
  }
}
