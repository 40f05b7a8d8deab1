/**
 * The pin worker: executes fetches, decides nothing. A fair queue drained by a
 * bounded pool; each job dials the request's origins (best-effort), walks the
 * DAG wide over bitswap with the block guard, makes its blocks durable and
 * reports the outcome (blocks and bytes, or why it failed) to the jobs'
 * owner, the settler (src/pins/settle.ts), which decides what it means:
 * quota, pin, lifecycle transition, release when deleted meanwhile.
 * Requests for the same CID share one fetch (src/pins/shared-fetch.ts). A
 * fetch that receives no block for the stall timeout fails; a job cancelled or
 * stopped by shutdown reports nothing, so a stopped request stays `pinning`
 * and resumes on the next start.
 *
 * The queue holds only requests that are queued or pinning in the record
 * store, each once: those the service admitted, which passed the per-user
 * pending cap (PINERY_MAX_PENDING_PER_USER), and those resumed at start,
 * which count against that cap too (the index counts every pending record).
 * So it never holds more than the pending records, and grows only through
 * admission. It holds their ids (pin-queue.ts): each job reads its record
 * from the record store when it starts, unless it is one of the few kept
 * from enqueue().
 */
import { createPinQueue, type QueuedPin } from './pin-queue.js'
import { CancelledError, createSharedFetches, jobTimeline } from './shared-fetch.js'
import { failureOf, fetchForJob, ShutdownError, type FetchOutcome, type Job, type PinJobs } from './pin-job.js'
import { createResumedHolds, type ResumedHoldsComponents } from './resumed-holds.js'
import { createJobRetries } from './job-retries.js'
import { Counts } from '../counts.js'
import type { LocalDagComponents } from './local-dag.js'
import type { DagWalkComponents } from './dag-walk.js'
import { queuePlace, type PinProgress, type PinRecord } from './types.js'
import type { GcGuard } from './gc-guard.js'
import type { RecordStore } from './record-store.js'
import type { Logger } from '../logger.js'
import type { PinMetrics } from '../metrics.js'
import type { PineryNode } from '../node/index.js'

export type { FetchOutcome, PinJobs } from './pin-job.js'

/** The worker pool. */
export interface PinWorker {
  /**
   * Queues every queued or pinning record in queue order (the places replacements took over survive a
   * restart), protecting what each has stored already, and starts the pool.
   */
  start(): Promise<void>
  /**
   * Queues a record to be fetched (once: a record queued or running already is not queued again).
   * The record must be written: its job may read it back from the record store when it starts.
   * `inPlaceOf`: the request it replaced, whose work stops; a replacement of a queued request takes its place
   * in the queue, one of a running request (its record carries the place, `queuedAt`) goes before its owner's
   * other queued ones.
   */
  enqueue(record: PinRecord, inPlaceOf?: string): void
  /** Stops work on a request that was deleted or replaced: its job reports nothing. */
  cancel(requestid: string): void
  /** 1-based position among queued requests, and the queue's length. */
  position(requestid: string): { position: number, length: number } | undefined
  progress(requestid: string): PinProgress | undefined
  /**
   * What became of a running job's origins, for its status: all of them while no block arrived, else those
   * that failed. Apart from `progress`, which pin.progress events carry as they are.
   */
  origins(requestid: string): string | undefined
  /**
   * True once a running job's DAG is all fetched and what remains is making its blocks durable and writing the
   * outcome (a status then says "saving", not a fetch's last count for the seconds an fsync may take).
   */
  saving(requestid: string): boolean
  /** The records of the requests being fetched, each as its job read it when it started. */
  fetching(): IterableIterator<PinRecord>
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
  /** Told each job's limit and outcome. */
  jobs: PinJobs
  /** Pending records to resume, and each job's record when it starts. */
  records: Pick<RecordStore, 'pending' | 'get' | 'namesUpload'>
  node: Pick<PineryNode, 'dialAll'>
  /** Network-backed block access (fetches what is missing). */
  blocks: DagWalkComponents
  /** Stored blocks only: what resumed requests hold already. */
  stored: Omit<LocalDagComponents, 'guard'>
  /** As JobFetchComponents.flushBlocks (pin-job.ts). */
  flushBlocks(since: number): Promise<void>
  /** How many block syncs have failed so far. */
  syncFailures(): number
  guard: GcGuard
  logger: Logger
  /** The block lists of CAR uploads, whose blocks resumed requests hold too. */
  uploads: ResumedHoldsComponents['uploads']
  /** Told when a failed fetch may have left garbage behind, or an upload's blocks were let go. */
  onFailed(): void
  metrics?: PinMetrics
}

/**
 * Records from enqueue() kept for their jobs, at most: reading one back costs ~20 µs of CPU (10k: ~0.2 CPU-s)
 * and two LevelDB gets through the thread pool. bench:many's backlog reached ~6,000 (POSTs accepted faster
 * than pins settle), so with 1,024 kept its jobs read ~6,000 records back (12,000 gets); 8,192 keep a backlog
 * like that in memory, at ~750 bytes a record (≤ ~6 MiB), ids only beyond.
 */
const HANDED_MAX = 8192

/** Creates the pool (not started). */
export function createPinWorker (init: PinWorkerInit, components: PinWorkerComponents): PinWorker {
  const { jobs, guard } = components
  const log = components.logger.child({ component: 'worker' })
  const queue = createPinQueue()
  const active = new Map<string, Job>()
  const handed = new Map<string, PinRecord>() // past HANDED_MAX, ids only (~750 bytes less each)
  const retries = createJobRetries({ requeue: again, logger: components.logger })
  /** Slots each owner holds. */
  const held = new Counts<string>()
  const { join, leave } = createSharedFetches(init, components)
  const running = new Set<Promise<void>>()
  // What requests resumed at start have stored, protected until each one's job ends.
  const resumed = createResumedHolds({
    stored: components.stored,
    guard,
    uploads: components.uploads,
    records: components.records,
    onReleased: () => { components.onFailed() },
    logger: components.logger
  })
  let stopped = true

  async function run ({ requestid }: QueuedPin): Promise<void> {
    const job: Job = { controller: new AbortController() }
    active.set(requestid, job)
    let fetchAgain: PinRecord | undefined
    try {
      const record = handed.get(requestid) ?? await components.records.get(requestid)
      handed.delete(requestid)
      // Gone or settled: deleted or replaced as it left the queue (the cancel comes after the write).
      if (record == null || (record.status !== 'queued' && record.status !== 'pinning')) {
        log.debug({ requestid, status: record?.status }, 'a request left the queue no longer pending')
        return
      }
      job.record = record
      const started = performance.now()
      const startedAt = Date.now()
      components.metrics?.pinStarted()
      let outcome: FetchOutcome
      let durableAt: number | undefined
      try {
        const { blocks, bytes } = await fetchForJob(record, job, { jobs, join, flushBlocks: components.flushBlocks })
        durableAt = Date.now()
        outcome = { blocks, bytes }
      } catch (cause) {
        if (retries.fetchAgain(requestid, cause)) { fetchAgain = record; return }
        const failure = failureOf(cause, job)
        if (failure == null) return // cancelled or shut down: nothing to report
        outcome = failure
      }
      retries.ended(requestid)
      let settled: 'pinned' | 'failed'
      try {
        settled = await jobs.settle(record, outcome)
      } catch (err) {
        retries.settleFailed(record, err)
        return
      }
      components.metrics?.pinFinished(settled, (performance.now() - started) / 1000)
      if (log.isLevelEnabled('debug') && job.fetch != null) {
        log.debug({ requestid, ...jobTimeline(job.fetch, startedAt, durableAt) }, 'fetch timeline')
      }
      if (settled === 'failed') components.onFailed()
    } finally {
      if (job.watcher != null) job.fetch?.watchers.delete(job.watcher)
      if (job.fetch != null && job.record != null) leave(job.record, job.fetch)
      active.delete(requestid)
      resumed.release(requestid)
      // Back in the queue before the slot is free, so no other pin of the owner's takes it meanwhile.
      if (fetchAgain != null) again(fetchAgain)
    }
  }

  /**
   * The most slots one owner with queued work may hold: an equal share of the slots the owners with queued work
   * may use (all but those held by owners whose requests are all running, which are theirs until their jobs
   * end), and never every slot, so a newcomer's first pin starts at once even when one owner's fetches all
   * stall. An owner with running work only is no sharer: counted as one (as it was), it left the slots it would
   * not use idle while another owner's backlog waited (4 slots, bob's one running pin: alice got 2, one sat idle).
   */
  function slotCap (): number {
    if (init.concurrency === 1) return 1
    let usable = init.concurrency
    for (const [owner, slots] of held) if (!queue.hasOwner(owner)) usable -= slots
    return Math.min(init.concurrency - 1, Math.ceil(usable / Math.max(1, queue.owners)))
  }

  /**
   * Queues `record` again before its owner's queued pins (it was running), read back from the store when it
   * runs (it may be gone or settled by then).
   */
  function again (record: PinRecord): void {
    if (stopped || queue.has(record.requestid) || active.has(record.requestid)) return
    queue.pushFront(record.requestid, record.owner, queuePlace(record))
    pump()
  }

  function pump (): void {
    while (!stopped && active.size < init.concurrency && queue.length > 0) {
      const cap = slotCap()
      // The owner holding the fewest slots goes first: a newcomer takes the next slot that frees.
      const next = queue.take(owner => { const n = held.count(owner); return n < cap ? n : Infinity })
      if (next == null) return
      const { owner } = next
      held.add(owner)
      const job = run(next).catch(err => { log.error({ err, requestid: next.requestid }, 'pin job crashed') })
      running.add(job)
      void job.finally(() => {
        held.add(owner, -1)
        running.delete(job)
        pump()
      })
    }
  }

  function cancel (requestid: string): void {
    handed.delete(requestid)
    if (queue.cancel(requestid)) resumed.release(requestid)
    active.get(requestid)?.controller.abort(new CancelledError('request removed'))
  }

  return {
    async start () {
      stopped = false
      async function * notQueued (): AsyncGenerator<PinRecord> {
        for await (const record of components.records.pending()) if (!queue.has(record.requestid)) yield record
      }
      // Before the collector starts: what a resumed request holds already may exist nowhere else.
      await resumed.protect(notQueued(), (record) => { queue.push(record.requestid, record.owner) })
      if (queue.length > 0) log.info({ resumed: queue.length }, 'resuming pending pins')
      pump()
    },
    enqueue (record, inPlaceOf) {
      let placed = false
      if (inPlaceOf != null) {
        placed = !stopped && !active.has(record.requestid) && queue.rename(inPlaceOf, record.requestid)
        if (placed) { handed.delete(inPlaceOf); resumed.release(inPlaceOf) } else cancel(inPlaceOf)
      }
      if (stopped || (!placed && (queue.has(record.requestid) || active.has(record.requestid)))) return
      // One that took over a pending request's place (queuedAt) but not its slot: that request was running.
      if (!placed) {
        if (record.queuedAt != null) queue.pushFront(record.requestid, record.owner, record.queuedAt)
        else queue.push(record.requestid, record.owner)
      }
      if (handed.size < HANDED_MAX) handed.set(record.requestid, record)
      pump()
    },
    cancel,
    position (requestid) {
      const position = queue.position(requestid, owner => held.count(owner))
      return position == null ? undefined : { position, length: queue.length }
    },
    stats () {
      return { depth: queue.length, active: active.size }
    },
    progress (requestid) {
      const fetch = active.get(requestid)?.fetch
      return fetch == null ? undefined : { ...fetch.progress }
    },
    origins (requestid) {
      const job = active.get(requestid)
      return job?.fetch == null ? undefined : job.origins?.describe(job.fetch.progress.blocks === 0)
    },
    saving (requestid) {
      return active.get(requestid)?.fetch?.finished === true
    },
    * fetching () {
      for (const job of active.values()) if (job.fetch != null && job.record != null) yield job.record
    },
    async stop () {
      stopped = true
      queue.clear()
      handed.clear()
      resumed.releaseAll()
      for (const job of active.values()) job.controller.abort(new ShutdownError('shutting down'))
      await Promise.allSettled([...running])
    }
  }
}
