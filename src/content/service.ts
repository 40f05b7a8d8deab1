/**
 * Uploads: checks the owner's quota room before reading anything, imports
 * the body through a block sink (blocks protected from GC until settled,
 * bytes counted against the room), then records each root through the pin
 * service, which charges the quota and pins. Whatever fails leaves no block
 * of the upload behind that nothing else pins.
 */
import { randomUUID } from 'node:crypto'
import { BlocksLostError, StorageFailedError, isErrorNamed } from '../errors.js'
import { canonicalCidKey } from '../pins/request-pins.js'
import { createBlockSink, type BlockSink } from './upload-sink.js'
import { readCar } from './car.js'
import { measureStoredDag } from './stored-dag.js'
import { importUnixfs, type ImportOptions } from './unixfs-import.js'
import type { ContentService, UploadEntry, UploadOptions } from './index.js'
import type { GcGuard } from '../pins/gc-guard.js'
import type { DagWalkComponents } from '../pins/dag-walk.js'
import type { GarbageCollector } from '../pins/gc.js'
import type { PinRecord, PinService } from '../pins/types.js'
import type { OpenRequest, UploadBlocks } from '../pins/upload-blocks.js'
import type { ExtraOp, RecordStore } from '../pins/record-store.js'
import type { Logger } from '../logger.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** Settings of the service. */
export interface ContentServiceInit {
  /** How often a CAR upload whose DAG was incomplete checks whether the fetch of the rest settled. */
  settlePollMs?: number
  /** Blocks one upload may store (PINERY_MAX_UPLOAD_BLOCKS); none by default. */
  maxUploadBlocks?: number
}

/** What uploads need. */
export interface ContentServiceComponents {
  pins: Pick<PinService, 'add' | 'addStored' | 'checkRoom' | 'remove'>
  /** The local blockstore (never the network). */
  blockstore: Pick<Blockstore, 'put' | 'get' | 'has'>
  getCodec: DagWalkComponents['getCodec']
  guard: Pick<GcGuard, 'protectKey' | 'unprotectKey'>
  gc: Pick<GarbageCollector, 'discard' | 'markDirty'>
  /**
   * Stored lists of the blocks of CAR uploads left waiting (what protects them across a restart), and the
   * requests of CAR uploads not answered yet (what a kill leaves is undone at the next start).
   */
  uploads: Pick<UploadBlocks, 'save' | 'forget' | 'opening' | 'opened' | 'unclosed' | 'close'>
  /** Whether a pending request still names an upload: its blocks are kept until none does. */
  records: Pick<RecordStore, 'namesUpload'>
  /**
   * Makes every block stored so far durable: an upload is pinned only once its blocks would survive a power loss.
   * Throws BlocksLostError if a block sync failed after `since` (syncFailures, read as the upload began).
   */
  flushBlocks(since: number): Promise<void>
  /** How many block syncs have failed so far. */
  syncFailures(): number
  logger: Logger
}

/** The service, a way to stop its background waits (at shutdown), and what the start finishes. */
export type ContentServiceHandle = ContentService & {
  stop(): void
  /**
   * At start, before anything is served or resumed: removes the requests of CAR uploads a kill cut short
   * before their answer (no client was told of them, and a retry makes them again); resolves with how many.
   */
  undoInterrupted(): Promise<number>
}

// Bytes assumed for an upload of unknown size: refused up front only when no room is left at all.
const UNKNOWN_SIZE = 1

async function * one<T> (item: T): AsyncGenerator<T> {
  yield item
}

/** Creates the upload service. */
export function createContentService (
  init: ContentServiceInit,
  components: ContentServiceComponents
): ContentServiceHandle {
  const { pins, gc } = components
  const log = components.logger.child({ component: 'content' })
  const stopped = new AbortController()
  const settlePollMs = init.settlePollMs ?? 500

  async function open (owner: string, expectedBytes: number): Promise<BlockSink> {
    const budget = await pins.checkRoom(owner, expectedBytes)
    return createBlockSink({ budget, maxBlocks: init.maxUploadBlocks ?? Infinity }, {
      blockstore: components.blockstore,
      guard: components.guard,
      discard: async (cids) => await gc.discard(cids)
    })
  }

  async function failed (sink: BlockSink, err: unknown): Promise<never> {
    try {
      await sink.discard()
    } catch (e) {
      log.warn({ err: e }, 'cannot discard the blocks of a failed upload')
    }
    gc.markDirty()
    throw err
  }

  async function measure (root: CID, sink: BlockSink, signal?: AbortSignal): ReturnType<typeof measureStoredDag> {
    const dagComponents = { blockstore: components.blockstore, getCodec: components.getCodec }
    return await measureStoredDag(root, sink, dagComponents, signal != null ? { signal } : {})
  }

  /** Makes the upload's blocks durable; a failed sync since `since` fails it (507: nothing of it is kept). */
  async function flush (since: number): Promise<void> {
    await components.flushBlocks(since).catch((err: unknown) => {
      if (!isErrorNamed(err, BlocksLostError.name)) throw err
      throw new StorageFailedError(`the upload's blocks could not be made durable; send it again (${err.message})`)
    })
  }

  /** Records a UnixFS import (complete by construction) as a pinned request. */
  async function recordImport (
    owner: string, root: CID, sink: BlockSink, options: UploadOptions, since: number
  ): Promise<PinRecord> {
    const request = { cid: root.toString(), ...options.request() }
    const dag = await measure(root, sink, options.signal)
    if (dag == null) throw new Error(`the import of ${root.toString()} left a block of it unstored`)
    await flush(since)
    await options.stillAllowed?.()
    const record = await pins.addStored(owner, request, dag)
    log.info({
      owner, requestid: record.requestid, cid: request.cid, dagSize: dag.dagSize, blocks: dag.blocks.length
    }, 'upload pinned')
    return record
  }

  async function importAndRecord (
    owner: string,
    entries: AsyncIterable<UploadEntry>,
    shape: Omit<ImportOptions, 'signal'>,
    options: UploadOptions
  ): Promise<PinRecord> {
    const since = components.syncFailures()
    const sink = await open(owner, options.expectedBytes ?? UNKNOWN_SIZE)
    try {
      const root = await importUnixfs(entries, sink, {
        ...shape, ...(options.signal != null ? { signal: options.signal } : {})
      })
      const record = await recordImport(owner, root, sink, options, since)
      sink.release()
      return record
    } catch (err) {
      return await failed(sink, err)
    }
  }

  /** Drops an upload's stored block list (its requests settled, or were undone); a stale one goes at the next start. */
  async function forget (upload: string | undefined): Promise<void> {
    if (upload == null) return
    await components.uploads.forget(upload).catch((err: unknown) => {
      log.warn({ err, upload }, 'cannot drop the block list of a CAR upload')
    })
  }

  /**
   * Removes the requests of a CAR upload that failed or was cut short (each with its pin.deleted event),
   * then closes it, unless `close` is false or one of them cannot go: then the next start does it.
   */
  async function undo (id: string, requests: OpenRequest[], close = true): Promise<void> {
    let all = close
    for (const { owner, requestid } of requests) {
      await pins.remove(owner, requestid).catch((err: unknown) => {
        if (isErrorNamed(err, 'NotFoundError')) return
        all = false
        log.warn({ err, requestid }, 'cannot undo a request of a failed CAR upload')
      })
    }
    if (all) await components.uploads.close(id)
  }

  /** Undoes a failed CAR upload: the requests named under it, and those `created` knows of. */
  async function undoFailed (id: string, owner: string, created: PinRecord[]): Promise<void> {
    const named = await components.uploads.opened(id).catch((err: unknown) => {
      log.warn({ err, upload: id }, 'cannot read the requests of a failed CAR upload; the next start undoes them')
      return undefined
    })
    const ids = new Set([...(named ?? []).map(r => r.requestid), ...created.map(r => r.requestid)])
    await undo(id, [...ids].map(requestid => ({ owner, requestid })), named != null).catch((err: unknown) => {
      log.warn({ err, upload: id }, 'cannot close a failed CAR upload; the next start undoes it')
    })
  }

  /**
   * Keeps a CAR's blocks protected until no pending request names the upload (its own requests, or those that
   * replaced them, settled or went), then drops the unpinned rest. In memory: across a restart `upload`, the
   * stored list of those blocks, protects them (resumed-holds.ts).
   */
  function holdUntilSettled (sink: BlockSink, upload: string): void {
    const tick = (): void => {
      if (stopped.signal.aborted) { sink.release(); return }
      components.records.namesUpload(upload).then(async (named) => {
        if (named) { setTimeout(tick, settlePollMs).unref(); return }
        await forget(upload)
        await sink.discard()
      }).catch((err: unknown) => {
        if (!stopped.signal.aborted) log.warn({ err }, 'stopped waiting for the fetch of a CAR upload')
        sink.release()
        gc.markDirty()
      })
    }
    setTimeout(tick, settlePollMs).unref()
  }

  return {
    async addFile (owner, content, options) {
      return await importAndRecord(owner, one({ path: '', content }), { wrap: false }, options)
    },

    async addDirectory (owner, entries, options) {
      const shape = { wrap: true, unwrapLone: () => options.wrapWithDirectory?.() !== true }
      return await importAndRecord(owner, entries, shape, options)
    },

    async addCar (owner, car, options) {
      const since = components.syncFailures()
      const sink = await open(owner, UNKNOWN_SIZE)
      // Its requests are named under it in their creation batches until the answer: all roots or none, also
      // across a kill. Its block list, if it needs one, bears the same id.
      const id = randomUUID()
      const alongside = (record: PinRecord): ExtraOp[] => [components.uploads.opening(id, owner, record.requestid)]
      const created: PinRecord[] = []
      let upload: string | undefined
      try {
        const roots = await readCar(car, sink, {
          getCodec: components.getCodec, ...(options.signal != null ? { signal: options.signal } : {})
        })
        const base = options.request()
        // Before any request is made: a DAG the CAR holds only part of is answered queued, and the blocks
        // it did bring may exist nowhere else (they were flushed only once its fetch ended).
        await flush(since)
        await options.stillAllowed?.()
        const seen = new Set<string>()
        for (const root of roots) {
          const key = canonicalCidKey(root)
          if (seen.has(key)) continue
          seen.add(key)
          const request = { cid: root.toString(), ...base }
          const dag = await measure(root, sink, options.signal)
          if (dag != null) {
            // Whole with stored blocks it did not bring: one a fetch put since the flush above is made durable too.
            await flush(since)
            created.push(await pins.addStored(owner, request, dag, { alongside }))
            continue
          }
          // A DAG the CAR does not hold whole is pinned like any request: the worker fetches the rest. The blocks
          // the CAR brought are listed on disk first, named by the request's record: below a node the CAR lacks
          // no walk from the root finds them, and after a restart only the list keeps the collector off them.
          upload ??= await components.uploads.save(sink.keys(), id)
          created.push(await pins.add(owner, request, { upload, alongside }))
        }
        // The answer comes next: from here on a kill leaves the requests to the client, who was not told (as for
        // any request killed between its write and its answer); before, the next start removes them.
        await components.uploads.close(id)
      } catch (err) {
        // All roots or none: requests made for earlier roots go too.
        await undoFailed(id, owner, created)
        // A request a client made meanwhile by replacing one of them (it may list them) carries the upload:
        // its blocks stay until that one settles or goes.
        if (upload != null && await components.records.namesUpload(upload).catch(() => true)) {
          holdUntilSettled(sink, upload)
          throw err
        }
        await forget(upload)
        return await failed(sink, err)
      }
      const summary = created.map(r => ({ requestid: r.requestid, cid: r.pin.cid, status: r.status }))
      log.info({ owner, roots: summary, bytes: sink.bytes }, 'CAR imported')
      if (upload != null && created.some(r => r.status !== 'pinned')) { holdUntilSettled(sink, upload); return created }
      await forget(upload) // each root was pinned already
      await sink.discard() // pinned blocks stay; blocks of the CAR no root reaches go
      return created
    },

    stop () {
      stopped.abort()
    },

    async undoInterrupted () {
      let undone = 0
      for await (const { id, requests } of components.uploads.unclosed()) {
        await undo(id, requests)
        undone += requests.length
      }
      if (undone > 0) log.warn({ requests: undone }, 'undid CAR uploads cut short before their answer')
      return undone
    }
  }
}
