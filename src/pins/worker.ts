/**
 * The pin worker: a FIFO queue drained by a bounded pool. Each job dials the
 * request's origins (best-effort), fetches the DAG wide over bitswap, pins
 * it, and settles the request through the lifecycle. Requests for the same
 * CID share one fetch. A fetch that receives no block for the stall timeout
 * fails its requests; a worker stopped by shutdown leaves them `pinning` so
 * they resume on the next start.
 */
import { CID } from 'multiformats/cid'
import { InsufficientFundsError, StallError, isErrorNamed } from '../errors.js'
import { isDialableOrigin, parseMultiaddr } from '../node/multiaddrs.js'
import { createLimiter } from './limiter.js'
import { createPinQueue } from './pin-queue.js'
import { walkDag, type DagWalkComponents, type DagWalkResult } from './dag-walk.js'
import { protectStoredDag, type LocalDagComponents } from './local-dag.js'
import type { PinProgress, PinRecord } from './index.js'
import type { BlockGuard } from './block-guard.js'
import type { ContentPins } from './content.js'
import type { PinLifecycle } from './lifecycle.js'
import type { Quota, QuotaWant } from './quota.js'
import type { RecordStore } from './record-store.js'
import type { Logger } from '../logger.js'
import type { PinMetrics } from '../metrics.js'
import type { PineryNode } from '../node/index.js'

/** The worker pool. */
export interface PinWorker {
  /** Re-queues every queued or pinning record, oldest first, and starts the pool. */
  start(): Promise<void>
  /**
   * Takes a new queued record: settles it at once when its DAG is pinned
   * already (no fetch, no queue), else queues it. Resolves with the record
   * as it now stands.
   */
  admit(record: PinRecord): Promise<PinRecord>
  /** Stops work on a request that was deleted or replaced. */
  cancel(requestid: string): void
  /** 1-based position among queued requests, and the queue's length. */
  position(requestid: string): { position: number, length: number } | undefined
  progress(requestid: string): PinProgress | undefined
  /** Requests waiting and being fetched. */
  stats(): { depth: number, active: number }
  /** Aborts all work, leaving requests as they are persisted, and waits for jobs to end. */
  stop(): Promise<void>
}

/** Settings of the pool. */
export interface PinWorkerInit {
  concurrency: number
  stallTimeoutMs: number
  /** Block requests in flight across all fetches (one DAG may use them all). */
  fetchConcurrency: number
  /** Re-issue block requests after this long without any block arriving. */
  rewantAfterMs: number
}

/** What the worker needs. */
export interface PinWorkerComponents {
  lifecycle: PinLifecycle
  records: Pick<RecordStore, 'pending'>
  content: Pick<ContentPins, 'pin' | 'release' | 'pinnedSize'>
  /** Each owner's byte quota bounds how far a fetch may grow, and is checked again when it settles. */
  quota: Pick<Quota, 'admit' | 'remaining'>
  node: Pick<PineryNode, 'dialAll'>
  /** Network-backed block access (fetches what is missing). */
  blocks: DagWalkComponents
  /** Stored blocks only: what resumed requests hold already. */
  stored: Omit<LocalDagComponents, 'guard'>
  /** Makes every block stored so far durable: a DAG is pinned only once its blocks would survive a power loss. */
  flushBlocks(): Promise<void>
  guard: BlockGuard
  logger: Logger
  /** Told when a failed fetch may have left garbage behind. */
  onFailed(): void
  metrics?: PinMetrics
}

interface SharedFetch {
  controller: AbortController
  participants: number
  progress: PinProgress
  protectedBlocks: CID[]
  done: Promise<DagWalkResult>
  /** True once the walk has completed successfully. */
  finished: boolean
  /** Told the bytes fetched so far after each block. */
  watchers: Set<(bytes: number) => void>
}

/** A fetch still running after this long is reported as `pinning` rather than `queued`. */
const PINNING_AFTER_MS = 100

/** Resumed requests whose stored blocks are protected at once during start(). */
const RESUME_BATCH = 64

class ShutdownError extends Error {
  static override name = 'ShutdownError'
  override name = ShutdownError.name
}

class CancelledError extends Error {
  static override name = 'CancelledError'
  override name = CancelledError.name
}

/** What a request settling with a DAG of `bytes` asks of its owner's quota: it counts already, and lets go of what it holds. */
function settling (record: PinRecord, bytes: number): QuotaWant {
  return { cidKey: record.cidKey, bytes, counted: true, ...(record.holds != null ? { frees: record.holds } : {}) }
}

/** Creates the pool (not started). */
export function createPinWorker (init: PinWorkerInit, components: PinWorkerComponents): PinWorker {
  const { lifecycle, content, guard } = components
  const log = components.logger.child({ component: 'worker' })
  const queue = createPinQueue()
  const active = new Map<string, { controller: AbortController, fetch?: SharedFetch }>()
  /** Slots each owner holds. */
  const held = new Map<string, number>()
  const fetches = new Map<string, SharedFetch>()
  const limiter = createLimiter(init.fetchConcurrency)
  const running = new Set<Promise<void>>()
  // Stored blocks of requests resumed at start, protected until the request's job ends.
  const resumed = new Map<string, CID[]>()
  let stopped = true

  function releaseResumed (requestid: string): void {
    for (const cid of resumed.get(requestid) ?? []) guard.unprotect(cid)
    resumed.delete(requestid)
  }

  function startFetch (record: PinRecord): SharedFetch {
    const controller = new AbortController()
    const fetch: SharedFetch = { controller, participants: 0, progress: { blocks: 0, bytes: 0 }, protectedBlocks: [], done: Promise.resolve({ blocks: [], bytes: 0 }), finished: false, watchers: new Set() }
    let stallTimer: NodeJS.Timeout | undefined
    const armStall = (): void => {
      clearTimeout(stallTimer)
      stallTimer = setTimeout(() => controller.abort(new StallError(`no progress for ${init.stallTimeoutMs} ms: no connected peer provided the next block`)), init.stallTimeoutMs)
    }
    armStall()
    fetch.done = walkDag(CID.parse(record.cidKey), components.blocks, {
      signal: controller.signal,
      concurrency: init.fetchConcurrency,
      rewantAfterMs: init.rewantAfterMs,
      limiter,
      beforeBlock: async (cid) => { fetch.protectedBlocks.push(cid); await guard.protect(cid) },
      onBlock: (_cid, size) => { fetch.progress.blocks++; fetch.progress.bytes += size; components.metrics?.blockFetched(size); armStall()
        for (const watch of fetch.watchers) watch(fetch.progress.bytes)
      }
    }).finally(() => clearTimeout(stallTimer))
    fetch.done.then(() => { fetch.finished = true }, () => {})
    return fetch
  }

  function join (record: PinRecord): SharedFetch {
    let fetch = fetches.get(record.cidKey)
    // A fetch that already failed (stalled) is not joined: a new request gets a fresh attempt.
    if (fetch == null || fetch.controller.signal.aborted) {
      fetch = startFetch(record)
      fetches.set(record.cidKey, fetch)
    }
    fetch.participants++
    // Only plain TCP: records stored before origins were checked may name anything.
    const origins = (record.pin.origins ?? []).flatMap(o => { try { return [parseMultiaddr(o)] } catch { return [] } }).filter(isDialableOrigin)
    if (origins.length > 0) void components.node.dialAll(origins, { signal: fetch.controller.signal })
    return fetch
  }

  function leave (cidKey: string, fetch: SharedFetch): void {
    if (--fetch.participants > 0) return
    if (fetches.get(cidKey) === fetch) fetches.delete(cidKey)
    const abandoned = !fetch.controller.signal.aborted && !fetch.finished
    fetch.controller.abort(new CancelledError('no request wants this DAG any more'))
    void fetch.done.catch(() => {}).finally(() => {
      for (const cid of fetch.protectedBlocks) guard.unprotect(cid)
      // Whatever an abandoned fetch stored and nobody pinned is garbage now.
      if (abandoned) components.onFailed()
    })
  }

  async function untilAborted<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason)
      if (signal.aborted) { onAbort(); return }
      signal.addEventListener('abort', onAbort, { once: true })
      promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }

  async function run (record: PinRecord): Promise<void> {
    const job: { controller: AbortController, fetch?: SharedFetch } = { controller: new AbortController() }
    active.set(record.requestid, job)
    const jlog = log.child({ requestid: record.requestid, cid: record.pin.cid })
    const started = performance.now()
    const finished = (outcome: 'pinned' | 'failed'): void => { components.metrics?.pinFinished(outcome, (performance.now() - started) / 1000) }
    components.metrics?.pinStarted()
    let watcher: ((bytes: number) => void) | undefined
    try {
      job.controller.signal.throwIfAborted()
      const budget = await components.quota.remaining(record.owner, record.cidKey, record.holds)
      job.controller.signal.throwIfAborted()
      job.fetch = join(record)
      if (budget !== Infinity) {
        // Only this request fails: others sharing the fetch may have room for the DAG.
        watcher = (bytes) => {
          if (bytes > budget) job.controller.abort(new InsufficientFundsError(`storage quota exceeded: the DAG grew past the ${budget} bytes left of user ${record.owner}'s quota`))
        }
        job.fetch.watchers.add(watcher)
      }
      // A fetch that ends quickly goes straight from queued to pinned: one write fewer per small pin.
      const markPinning = record.status === 'queued'
        ? setTimeout(() => { void lifecycle.transition(record, 'pinning').catch(err => { jlog.warn({ err }, 'cannot mark pinning') }) }, PINNING_AFTER_MS)
        : undefined
      const result = await untilAborted(job.fetch.done, job.controller.signal).finally(() => { clearTimeout(markPinning) })
      await components.flushBlocks()
      // Checked again with the final size: other pins of the owner may have settled meanwhile.
      const settled = await components.quota.admit(record.owner, settling(record, result.bytes), async () => {
        await content.pin(record.cidKey, result.blocks, result.bytes)
        return await lifecycle.transition(record, 'pinned', { dagSize: result.bytes })
      })
      // Deleted while we pinned: the deletion's release saw no pin yet, so release again.
      if (settled == null) await content.release([record.cidKey])
      else jlog.info({ dagSize: result.bytes, blocks: result.blocks.length }, 'pinned')
      finished('pinned')
    } catch (err) {
      // Helia wraps an aborted block request in its own error: the abort reason says what happened.
      const cause: unknown = job.controller.signal.aborted ? job.controller.signal.reason : job.fetch?.controller.signal.aborted === true ? job.fetch.controller.signal.reason : err
      if (isErrorNamed(cause, ShutdownError.name) || isErrorNamed(cause, CancelledError.name)) return
      const reason = isErrorNamed(cause, StallError.name) || isErrorNamed(cause, InsufficientFundsError.name) ? cause.message : `fetch failed: ${(cause as Error).message}`
      jlog.warn({ reason }, 'pin failed')
      await lifecycle.transition(record, 'failed', { failure: reason })
      finished('failed')
      components.onFailed()
    } finally {
      if (watcher != null) job.fetch?.watchers.delete(watcher)
      if (job.fetch != null) leave(record.cidKey, job.fetch)
      active.delete(record.requestid)
      releaseResumed(record.requestid)
    }
  }

  /**
   * The most slots one owner may hold: an equal share among the owners with
   * queued or running work, and never every slot, so a newcomer's first pin
   * starts at once even when one owner's fetches all stall.
   */
  function slotCap (): number {
    if (init.concurrency === 1) return 1
    let owners = held.size
    for (const owner of queue.owners()) if (!held.has(owner)) owners++
    return Math.min(init.concurrency - 1, Math.ceil(init.concurrency / Math.max(1, owners)))
  }

  function pump (): void {
    while (!stopped && active.size < init.concurrency && queue.length > 0) {
      const cap = slotCap()
      const record = queue.take(owner => (held.get(owner) ?? 0) < cap)
      if (record == null) return
      const { owner } = record
      held.set(owner, (held.get(owner) ?? 0) + 1)
      const job = run(record).catch(err => { log.error({ err, requestid: record.requestid }, 'pin job crashed') })
      running.add(job)
      void job.finally(() => {
        const left = (held.get(owner) ?? 1) - 1
        if (left > 0) held.set(owner, left)
        else held.delete(owner)
        running.delete(job)
        pump()
      })
    }
  }

  return {
    async start () {
      stopped = false
      // Protected a batch at a time (one file system call after another took seconds
      // for 100k requests), queued in order.
      let batch: Array<{ record: PinRecord, held: Promise<CID[]> }> = []
      const drain = async (): Promise<void> => {
        const held = await Promise.all(batch.map(b => b.held))
        batch.forEach(({ record }, i) => { resumed.set(record.requestid, held[i] as CID[]); queue.push(record) })
        batch = []
      }
      for await (const record of components.records.pending()) {
        if (queue.has(record.requestid)) continue
        // Before the collector starts: what a resumed request holds already may exist nowhere else.
        const roots = [record.cidKey, ...(record.holds ?? [])].map(key => CID.parse(key))
        batch.push({ record, held: protectStoredDag(roots, { ...components.stored, guard }) })
        if (batch.length >= RESUME_BATCH) await drain()
      }
      await drain()
      if (queue.length > 0) log.info({ resumed: queue.length }, 'resuming pending pins')
      pump()
    },
    async admit (record) {
      // The record is written, so it references its CID: the pin cannot go away under us.
      const dagSize = await content.pinnedSize(record.cidKey)
      if (dagSize != null) {
        // Checked again under the owner's lock: requests admitted at the same time are all charged by now.
        try {
          const settled = await components.quota.admit(record.owner, settling(record, dagSize), async () => await lifecycle.transition(record, 'pinned', { dagSize }))
          if (settled != null) return settled
        } catch (err) {
          if (!isErrorNamed(err, InsufficientFundsError.name)) throw err
          return await lifecycle.transition(record, 'failed', { failure: err.message }) ?? record
        }
      }
      queue.push(record)
      pump()
      return record
    },
    cancel (requestid) {
      if (queue.cancel(requestid)) releaseResumed(requestid)
      active.get(requestid)?.controller.abort(new CancelledError('request removed'))
    },
    position (requestid) {
      const position = queue.position(requestid)
      return position == null ? undefined : { position, length: queue.length }
    },
    stats () {
      return { depth: queue.length, active: active.size }
    },
    progress (requestid) {
      const fetch = active.get(requestid)?.fetch
      return fetch == null ? undefined : { ...fetch.progress }
    },
    async stop () {
      stopped = true
      queue.clear()
      for (const requestid of [...resumed.keys()]) releaseResumed(requestid)
      for (const job of active.values()) job.controller.abort(new ShutdownError('shutting down'))
      await Promise.allSettled([...running])
    }
  }
}
