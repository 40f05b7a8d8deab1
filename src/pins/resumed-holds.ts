/**
 * What requests resumed at start hold already: before the collector starts, each pending request's
 * stored blocks (its DAG, and the DAGs it holds during a replace) are protected, since they may
 * exist nowhere else; they stay protected until that request's job ends or it is cancelled.
 * So are the blocks of the CAR upload that made a request (upload-blocks.ts): below a node the CAR
 * lacked they cannot be reached from the root, and only the upload's stored list names them. Those
 * stay protected until every request of the upload has settled, then the list is dropped.
 * Held as the guard's block keys (72 bytes each), and only for requests holding blocks (an entry
 * for each of 100k requests is ~8 MiB).
 */
import { cidOfKey, protectStoredDag, type LocalDagComponents } from './local-dag.js'
import type { GcGuard } from './gc-guard.js'
import type { PinRecord } from './types.js'
import type { RecordStore } from './record-store.js'
import type { UploadBlocks } from './upload-blocks.js'
import type { Logger } from '../logger.js'

/** Requests protected at once: one file system call after another took seconds for 100k requests. */
const RESUME_BATCH = 64
/** How often an upload whose jobs all ended looks whether its requests have settled or gone. */
const SETTLE_POLL_MS = 200

/** The protections of resumed requests, by request id. */
export interface ResumedHolds {
  /**
   * Protects each record's stored blocks, a batch at a time; `each` runs for every record, in order, once
   * held. Then the blocks of their uploads, and drops the lists of uploads no pending request names.
   */
  protect(records: AsyncIterable<PinRecord>, each: (record: PinRecord) => void): Promise<void>
  /** Ends one request's protection (its job ended, or it was cancelled). */
  release(requestid: string): void
  /** Ends every protection (at shutdown): upload lists stay for the next start. */
  releaseAll(): void
}

/** What it protects with. */
export interface ResumedHoldsComponents {
  stored: Omit<LocalDagComponents, 'guard'>
  guard: Pick<GcGuard, 'unprotectKey' | 'protectKey'> & LocalDagComponents['guard']
  uploads: Pick<UploadBlocks, 'read' | 'forget' | 'ids'>
  /** Whether a request still waits (an upload's blocks are let go only once none of its requests does). */
  records: Pick<RecordStore, 'get' | 'namesUpload'>
  /** Told when an upload's blocks are let go: those no pin keeps are garbage. */
  onReleased(): void
  logger: Logger
}

/** One upload's protected blocks, its resumed requests, and those whose jobs have not ended. */
interface Upload { keys: string[], requests: string[], waiting: Set<string> }

/** Creates the (empty) protections of resumed requests. */
export function createResumedHolds (components: ResumedHoldsComponents): ResumedHolds {
  const { guard, uploads: lists } = components
  const held = new Map<string, string[]>()
  const uploads = new Map<string, Upload>()
  const uploadOf = new Map<string, string>()

  const unprotect = (keys: string[]): void => { for (const key of keys) guard.unprotectKey(key) }

  /**
   * Whether a pending request still names the upload: one its requests were replaced by too. A request of an
   * older build has no index key, so the resumed ones are also read.
   */
  async function named (id: string, upload: Upload): Promise<boolean> {
    if (await components.records.namesUpload(id)) return true
    for (const requestid of upload.requests) if ((await components.records.get(requestid))?.upload === id) return true
    return false
  }

  /**
   * Lets go of an upload whose requests' jobs all ended, once none of them names it: a job ends before
   * the removal of its request is written (the worker is told first), and after a settling write
   * that failed (the request runs again later), so it waits for that.
   */
  async function settle (id: string, upload: Upload): Promise<void> {
    for (;;) {
      if (uploads.get(id) !== upload) return // all let go meanwhile (shutdown)
      if (!await named(id, upload)) break
      await new Promise(resolve => setTimeout(resolve, SETTLE_POLL_MS).unref())
    }
    if (uploads.get(id) !== upload) return
    uploads.delete(id)
    unprotect(upload.keys)
    components.onReleased()
    await lists.forget(id)
  }

  const release = (requestid: string): void => {
    unprotect(held.get(requestid) ?? [])
    held.delete(requestid)
    const id = uploadOf.get(requestid)
    if (id == null) return
    uploadOf.delete(requestid)
    const upload = uploads.get(id)
    if (upload == null) return
    upload.waiting.delete(requestid)
    if (upload.waiting.size > 0) return
    settle(id, upload).catch((err: unknown) => {
      components.logger.warn({ err, upload: id }, 'cannot let go of the blocks of a CAR upload')
    })
  }

  /** Protects the blocks of every upload a resumed request names; drops the lists of the others. */
  async function protectUploads (): Promise<void> {
    for (const [id, upload] of uploads) {
      upload.keys = await lists.read(id)
      for (const key of upload.keys) await guard.protectKey(key)
    }
    for await (const id of lists.ids()) if (!uploads.has(id)) await lists.forget(id)
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
        if (record.upload != null) {
          const upload = uploads.get(record.upload) ?? { keys: [], requests: [], waiting: new Set() }
          upload.requests.push(record.requestid)
          upload.waiting.add(record.requestid)
          uploads.set(record.upload, upload)
          uploadOf.set(record.requestid, record.upload)
        }
        if (batch.length >= RESUME_BATCH) await drain()
      }
      await drain()
      await protectUploads()
    },
    release,
    releaseAll () {
      uploadOf.clear()
      for (const requestid of [...held.keys()]) release(requestid)
      for (const upload of uploads.values()) unprotect(upload.keys)
      uploads.clear()
    }
  }
}
