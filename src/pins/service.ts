/**
 * The pin service: what the HTTP routes call. It turns validated requests
 * into records, checks them against the owner's quota and persists them
 * through the lifecycle before answering, settles at once those whose DAG is
 * pinned already (the settler) and hands the rest to the worker to fetch, and
 * answers queries. Every call is scoped to an owner;
 * another owner's request is indistinguishable from a missing one.
 */
import { randomUUID } from 'node:crypto'
import * as raw from 'multiformats/codecs/raw'
import { NotFoundError } from '../errors.js'
import { counted } from '../counted.js'
import { IDENTITY, parseCid } from './cid.js'
import { canonicalCidKey } from './request-pins.js'
import { removeEveryRequest } from './remove-owned.js'
import type { PinRecord, PinRequest, PinService } from './types.js'
import type { RequestPins } from './request-pins.js'
import { metaBytesOf, type PinIndex } from './query-index.js'
import { holding, type PinLifecycle } from './lifecycle.js'
import type { Quota } from './quota.js'
import type { RecordStore } from './record-store.js'
import type { PinSettler } from './settle.js'
import type { PinWorker } from './worker.js'

/** What the service needs. */
export interface PinServiceComponents {
  records: Pick<RecordStore, 'get' | 'nextCreated'>
  index: Pick<PinIndex, 'query'>
  lifecycle: PinLifecycle
  /** Fetches what is not pinned yet; decides nothing. */
  worker: Pick<PinWorker, 'enqueue' | 'cancel' | 'position' | 'progress' | 'origins' | 'saving'>
  /** Settles a request whose DAG is pinned already (the worker's outcomes reach it directly). */
  settler: Pick<PinSettler, 'settlePinned'>
  quota: Pick<Quota, 'admit' | 'remaining'>
  content: Pick<RequestPins, 'pin'>
}

// No CID is charged under the empty key, so a check with it counts the request as new.
const UNKNOWN_CID = ''

/** Creates the service. */
export function createPinService (components: PinServiceComponents): PinService {
  const { records, lifecycle, worker, settler, quota, content } = components

  /** A new queued record: settled now when its DAG is pinned already, else fetched. Resolves with it as it stands. */
  async function admit (record: PinRecord): Promise<PinRecord> {
    const settled = await settledNow(record)
    if (settled != null) return settled
    worker.enqueue(record)
    return record
  }

  /**
   * settlePinned, and when it throws (its write refused: a full disk), the written request `record` fetched all
   * the same (its DAG is stored: it settles at once), `inPlaceOf`'s place taken, not left in no queue.
   */
  async function settledNow (record: PinRecord, inPlaceOf?: string): Promise<PinRecord | undefined> {
    try {
      return await settler.settlePinned(record)
    } catch (err) {
      worker.enqueue(record, inPlaceOf)
      throw err
    }
  }

  function newRecord (owner: string, request: PinRequest): PinRecord {
    // Any multibase the request validation accepted (CID.parse alone knows only b, k, z and Qm).
    const cid = parseCid(request.cid)
    const record: PinRecord = {
      requestid: randomUUID(),
      owner,
      created: records.nextCreated(),
      status: 'queued',
      pin: request,
      cidKey: canonicalCidKey(cid)
    }
    // A raw identity CID carries its whole content: nothing to fetch or store.
    if (cid.multihash.code === IDENTITY && cid.code === raw.code) {
      record.status = 'pinned'
      record.dagSize = cid.multihash.digest.byteLength
    }
    return record
  }

  async function owned (owner: string, requestid: string): Promise<PinRecord> {
    const record = await records.get(requestid)
    if (record == null || record.owner !== owner) throw new NotFoundError(`no pin request ${requestid}`)
    return record
  }

  return {
    async add (owner, request, options = {}) {
      const record = newRecord(owner, request)
      if (options.upload != null && record.status === 'queued') record.upload = options.upload
      const want = {
        cidKey: record.cidKey,
        pends: record.status === 'queued',
        meta: { adds: metaBytesOf(request.meta) },
        ...(record.status === 'pinned' ? { bytes: record.dagSize } : {})
      }
      await quota.admit(owner, want, async () => { await lifecycle.create(record, options.alongside?.(record)) })
      return record.status === 'queued' ? await admit(record) : record
    },

    async addStored (owner, request, dag, options = {}) {
      const record = newRecord(owner, request)
      if (record.status === 'pinned') return await this.add(owner, request, options)
      const want = { cidKey: record.cidKey, bytes: dag.dagSize, meta: { adds: metaBytesOf(request.meta) } }
      const settled = await quota.admit(owner, want, async () => {
        // The record first, as the worker does: it references the CID, so a concurrent
        // release (another request for it deleted) cannot unpin what is pinned next.
        await lifecycle.create(record, options.alongside?.(record))
        try {
          await content.pin(record.cidKey, dag.blocks, dag.dagSize)
        } catch (err) {
          await lifecycle.remove(record.requestid)
          throw err
        }
        return await lifecycle.transition(record, 'pinned', { dagSize: dag.dagSize })
      })
      // Nobody knows the requestid yet, so nothing can have moved it meanwhile.
      return settled ?? record
    },

    async checkRoom (owner, bytes) {
      await quota.admit(owner, { cidKey: UNKNOWN_CID, bytes }, async () => {})
      return await quota.remaining(owner, UNKNOWN_CID)
    },

    async get (owner, requestid) {
      return await owned(owner, requestid)
    },

    async list (owner, query) {
      const cidKeys = query.cids == null ? undefined : new Set(query.cids.map(c => canonicalCidKey(parseCid(c))))
      const page = components.index.query(owner, query, cidKeys)
      const results = await Promise.all(page.requestids.map(async id => await records.get(id)))
      // A request deleted between the query and the read is left out.
      return { count: page.count, results: results.filter((r): r is PinRecord => r != null) }
    },

    async replace (owner, requestid, request) {
      const current = await owned(owner, requestid)
      const probe = newRecord(owner, request)
      const want = {
        cidKey: probe.cidKey,
        ...(probe.status === 'pinned' ? { bytes: probe.dagSize } : {}),
        counted: current.status !== 'failed',
        pends: probe.status === 'queued' && current.status !== 'queued' && current.status !== 'pinning',
        frees: [...(current.holds ?? []), current.cidKey],
        meta: { adds: metaBytesOf(request.meta), frees: metaBytesOf(current.pin.meta) }
      }
      // Keep what the old request kept pinned until the new one settles.
      const next = await quota.admit(owner, want, async () =>
        await lifecycle.replace(requestid, (old) => holding(old, newRecord(owner, request))))
      if (next == null) throw new NotFoundError(`no pin request ${requestid}`)
      const settled = next.status === 'queued' ? await settledNow(next, requestid) : next
      if (settled != null) {
        worker.cancel(requestid)
        return settled
      }
      // Where the old request waited (a queued pin restarted or replaced does not go to the back).
      worker.enqueue(next, requestid)
      return next
    },

    async remove (owner, requestid) {
      await owned(owner, requestid)
      // The record first, then its work (as a replace does): a deletion that cannot be written (a full disk)
      // leaves the request queued in its place or running. Cancelled first, it waited in no queue till a restart.
      // A job that settles meanwhile finds the record gone and lets go of what it pinned (settle.ts).
      const gone = await lifecycle.remove(requestid)
      worker.cancel(requestid)
      if (gone == null) throw new NotFoundError(`no pin request ${requestid}`)
    },

    async removeAll (owner) {
      return await removeEveryRequest(components.index, owner, async (requestid) => {
        const gone = await lifecycle.remove(requestid)
        worker.cancel(requestid)
        return gone != null
      })
    },

    statusDetails (record) {
      if (record.status !== 'queued' && record.status !== 'pinning') return undefined
      const p = worker.progress(record.requestid)
      if (p != null) {
        // A fetch may start before the record says pinning (short fetches skip that write): a client reading
        // `queued` is told it is starting, not bytes of a fetch its status does not show yet.
        const counts = `${counted(p.blocks, 'block')}, ${counted(p.bytes, 'byte')}`
        const main = record.status === 'queued'
          ? 'starting to fetch'
          : worker.saving(record.requestid)
            ? `saving ${counts}`
            : p.blocks === 0 ? 'looking for a peer that has it' : `fetched ${counts}`
        const origins = worker.origins(record.requestid)
        return origins == null ? main : `${main}; ${origins}`
      }
      const at = worker.position(record.requestid)
      if (at != null) return `queue position ${at.position} of ${at.length}`
      // A pinning record with no job left: its job ended after the record was read (its outcome is being
      // written, or is written by now) or its outcome's write failed and is retried. Nothing connects then.
      return record.status === 'pinning' ? 'saving' : 'queued'
    }
  }
}
