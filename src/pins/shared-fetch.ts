/**
 * Fetches shared between the requests that want the same DAG: one walk over
 * bitswap per CID however many requests join it, with the block guard
 * protecting what it stores until the fetch is over, a stall timeout that
 * aborts it when no block arrives, and progress. The worker's jobs join and
 * leave; the last to leave aborts a fetch nobody wants any more.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { StallError } from '../errors.js'
import { isDialableOrigin, parseMultiaddr } from '../node/multiaddrs.js'
import { createSemaphore, type SharedLane } from './semaphore.js'
import { createStallClock } from './stall-clock.js'
import { walkDag, type DagWalkComponents, type DagWalkResult } from './dag-walk.js'
import type { PinProgress, PinRecord } from './types.js'
import type { GcGuard } from './gc-guard.js'
import type { OriginNotes } from './origin-notes.js'
import type { PinMetrics } from '../metrics.js'
import type { PineryNode } from '../node/index.js'
import type { Multiaddr } from '@multiformats/multiaddr'

/** One fetch of a DAG and the requests taking part in it. */
export interface SharedFetch {
  controller: AbortController
  participants: number
  progress: PinProgress
  protectedBlocks: CID[]
  done: Promise<DagWalkResult>
  /** True once the walk has completed successfully. */
  finished: boolean
  /** The blockstore's failed syncs when the fetch began: one since means blocks it relies on may be gone. */
  syncFailures: number
  /** Told the bytes fetched so far after each block. */
  watchers: Set<(bytes: number) => void>
  /** When the walk started and its first, second and latest block arrived (debug log, bench:transfer --rtt). */
  timeline: FetchTimeline
  /**
   * Where its block requests wait: in the lane of each owner with a request in it, served at the first of their
   * turns. So no owner's request is slower for sharing the fetch (in its starter's lane alone it waited behind
   * the starter's own backlog, and stayed there once the starter's request was deleted).
   */
  lane: SharedLane
}

/**
 * Marks of one fetch: the start as epoch ms (to line up with libp2p's log lines), the rest in ms after it:
 * when the first block (the root), the first raw leaf and the latest block arrived, and when the latest
 * block was stored (its file written; writes queue in the file system threads behind later arrivals).
 */
export interface FetchTimeline {
  startedAt: number
  rootMs?: number
  firstLeafMs?: number
  lastBlockMs?: number
  lastStoredMs?: number
}

/**
 * A job's phases for the debug log (bench:transfer --rtt splits a pin by them): the job's start as epoch ms
 * (to line up with libp2p's own log lines), then ms after it: the fetch's marks (the fetch may have started
 * before this job joined it), the blocks made durable, the outcome settled.
 */
export function jobTimeline (
  fetch: SharedFetch, startedAt: number, durableAt: number | undefined
): Record<string, number> {
  const { startedAt: fetchAt, ...marks } = fetch.timeline
  const out: Record<string, number> = { startedAt, fetchStartMs: fetchAt - startedAt }
  for (const [k, ms] of Object.entries(marks)) out[k] = fetchAt + ms - startedAt
  if (durableAt != null) out.durableMs = durableAt - startedAt
  out.settledMs = Date.now() - startedAt
  return out
}

/** The abort reason of a job or fetch nobody wants any more (not a failure to report). */
export class CancelledError extends Error {
  static override name = 'CancelledError'
  override name = CancelledError.name
}

/** Settings of the fetches. */
export interface SharedFetchesInit {
  stallTimeoutMs: number
  /** Block requests in flight across all fetches (one DAG may use them all). */
  fetchConcurrency: number
  /** Re-issue block requests after this long without any block arriving. */
  rewantAfterMs: number
}

/** What fetches need. */
export interface SharedFetchesComponents {
  node: Pick<PineryNode, 'dialAll'>
  /** Network-backed block access (fetches what is missing). */
  blocks: DagWalkComponents
  guard: GcGuard
  /** Told when an abandoned fetch may have left garbage behind. */
  onFailed(): void
  /** How many block syncs have failed so far (the blockstore's syncFailures). */
  syncFailures(): number
  metrics?: PinMetrics
}

/** The running fetches, one per CID. */
export interface SharedFetches {
  /**
   * Joins the fetch of `record`'s CID (starting one if none runs) and dials the record's origins, telling
   * `notes` what became of each.
   */
  join(record: PinRecord, notes?: OriginNotes): SharedFetch
  /** `record`'s request leaves a fetch it joined; the last participant aborts it and lets go of its blocks. */
  leave(record: Pick<PinRecord, 'cidKey' | 'owner'>, fetch: SharedFetch): void
}

/** A duration as a person reads it in a status: "500 ms", "90 s", "2 minutes". */
export function duration (ms: number): string {
  if (ms < 10_000 && ms % 1000 !== 0) return `${ms} ms`
  const s = Math.round(ms / 1000)
  if (s % 60 !== 0) return `${s} s`
  return s === 60 ? '1 minute' : `${s / 60} minutes`
}

/** Parsed origins kept: far more than one client names, bounded for many clients. */
const PARSED_ORIGINS_MAX = 1024

/** Creates the fetch registry. */
export function createSharedFetches (init: SharedFetchesInit, components: SharedFetchesComponents): SharedFetches {
  const { guard } = components
  const fetches = new Map<string, SharedFetch>()
  const limiter = createSemaphore(init.fetchConcurrency)

  function startFetch (record: PinRecord): SharedFetch {
    const controller = new AbortController()
    const lane = limiter.shared()
    lane.join(record.owner) // before the walk's first block request
    const fetch: SharedFetch = {
      lane,
      controller,
      participants: 0,
      syncFailures: components.syncFailures(),
      progress: { blocks: 0, bytes: 0 },
      protectedBlocks: [],
      done: Promise.resolve({ blocks: [], bytes: 0 }),
      finished: false,
      watchers: new Set(),
      timeline: { startedAt: Date.now() }
    }
    const { timeline } = fetch
    const stalled = `no progress for ${duration(init.stallTimeoutMs)}: no connected peer provided the next block`
    const clock = createStallClock(init.stallTimeoutMs, () => { controller.abort(new StallError(stalled)) })
    const arrived = (cid: CID): void => {
      const ms = Date.now() - timeline.startedAt
      timeline.rootMs ??= ms
      if (cid.code === raw.code) timeline.firstLeafMs ??= ms
      timeline.lastBlockMs = ms
    }
    const blocks: DagWalkComponents = {
      getCodec: components.blocks.getCodec,
      getBlock: async (cid, options) =>
        await components.blocks.getBlock(cid, { ...options, onArrived: () => { arrived(cid) } })
    }
    fetch.done = walkDag(CID.parse(record.cidKey), blocks, {
      signal: controller.signal,
      concurrency: init.fetchConcurrency,
      rewantAfterMs: init.rewantAfterMs,
      // Owners take turns for block requests as for worker slots (a fetch shared by several: in each one's lane).
      limiter: clock.limiter(lane),
      beforeBlock: async (cid) => { fetch.protectedBlocks.push(cid); await guard.protect(cid) },
      onBlock: (_cid, size) => {
        fetch.progress.blocks++
        timeline.lastStoredMs = Date.now() - timeline.startedAt
        fetch.progress.bytes += size
        components.metrics?.blockFetched(size)
        clock.progressed()
        for (const watch of fetch.watchers) watch(fetch.progress.bytes)
      }
    }).finally(() => { clock.stop() })
    fetch.done.then(() => { fetch.finished = true }, () => {})
    return fetch
  }

  /** Origins parsed lately (many requests name the same few): the multiaddr, or null when not dialed. */
  const parsedOrigins = new Map<string, Multiaddr | null>()

  /** Only plain TCP: records stored before origins were checked may name anything. */
  function dialable (origin: string): Multiaddr | null {
    let ma = parsedOrigins.get(origin)
    if (ma !== undefined) return ma
    try { ma = parseMultiaddr(origin) } catch { ma = null }
    if (ma != null && !isDialableOrigin(ma)) ma = null
    if (parsedOrigins.size >= PARSED_ORIGINS_MAX) parsedOrigins.clear()
    parsedOrigins.set(origin, ma)
    return ma
  }

  function join (record: PinRecord, notes?: OriginNotes): SharedFetch {
    let fetch = fetches.get(record.cidKey)
    // A fetch that already failed (stalled) is not joined: a new request gets a fresh attempt.
    if (fetch == null || fetch.controller.signal.aborted) {
      fetch = startFetch(record)
      fetches.set(record.cidKey, fetch)
    } else fetch.lane.join(record.owner)
    fetch.participants++
    const given = record.pin.origins ?? []
    const origins = given.flatMap(o => { const ma = dialable(o); return ma == null ? [] : [{ o, ma }] })
    if (origins.length === 0 && given.length > 0) notes?.noneDialable()
    for (const { o } of origins) notes?.set(o, { kind: 'dialing' })
    // Not awaited: blocks may come from any connected peer meanwhile, whatever becomes of the origins.
    if (origins.length > 0) {
      void components.node.dialAll(origins.map(({ ma }) => ma), {
        signal: fetch.controller.signal,
        onOutcome: (i, outcome) => { const origin = origins[i]; if (origin != null) notes?.set(origin.o, outcome) }
      })
    }
    return fetch
  }

  function leave ({ cidKey, owner }: Pick<PinRecord, 'cidKey' | 'owner'>, fetch: SharedFetch): void {
    fetch.lane.leave(owner)
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

  return { join, leave }
}
