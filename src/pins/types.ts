/**
 * Pin requests: their durable records, the lifecycle that moves them between
 * states, the worker pool that fetches their DAGs, the settler that decides
 * what a fetch means (quota, pin, state), and the service the HTTP layer
 * talks to.
 */

import type { CID } from 'multiformats/cid'
import type { ExtraOp } from './record-store.js'

/** The four states of the spec, in lifecycle order. */
export const PIN_STATES = ['queued', 'pinning', 'pinned', 'failed'] as const

/** The state of a pin request. */
export type PinState = typeof PIN_STATES[number]

/** What a client asked for, echoed back as `pin` in every PinStatus. */
export interface PinRequest {
  cid: string
  name?: string
  origins?: string[]
  meta?: Record<string, string>
}

/** One pin request as stored. */
export interface PinRecord {
  requestid: string
  owner: string
  /** Milliseconds since the epoch; unique and strictly increasing service-wide. */
  created: number
  status: PinState
  pin: PinRequest
  /** The CID in canonical form (CIDv1, base32): what blocks and pins are keyed by. */
  cidKey: string
  /** Bytes of all distinct blocks of the DAG, once pinned. */
  dagSize?: number
  /** Why the request failed, once failed. */
  failure?: string
  /** CIDs kept pinned on behalf of this request until it settles (replace). */
  holds?: string[]
  /**
   * The dagSize of each held CID that was pinned when held (by cidKey), so an index rebuilt from
   * the records charges it even once no pinned record names it (records written before this
   * field have none: their held CIDs are charged only while a pinned record names them).
   */
  holdSizes?: Record<string, number>
  /**
   * The CAR upload that made this request, while it waits for the rest of its DAG: the blocks the upload
   * stored stay protected until it settles (upload-blocks.ts). Dropped when it settles.
   */
  upload?: string
  /**
   * The place in the queue this request holds while pending, when it is not its own `created`: the place of
   * the pending request it replaced (a restart or replace keeps its turn). The pending range is ordered by it,
   * so the place survives a restart of the service; dropped when it settles.
   */
  queuedAt?: number
}

/**
 * The place of a pinned request sent back to the queue because its blocks were lost (`pinery verify --repair`):
 * before every place a request was created or queued at, so it runs first among its owner's pending requests,
 * as one whose blocks a failed sync dropped runs again before its owner's queued ones. Its owner was told it is
 * pinned; the others were never done. Repairs among themselves go in request id order.
 */
export const REPAIR_PLACE = 0

/** Where a pending request's turn comes among its owner's: its own creation, or the place it took over. */
export function queuePlace (record: Pick<PinRecord, 'created' | 'queuedAt'>): number {
  return record.queuedAt ?? record.created
}

/** Live progress of a request being fetched. */
export interface PinProgress {
  blocks: number
  bytes: number
}

/** Name matching strategies of the spec. */
export type TextMatch = 'exact' | 'iexact' | 'partial' | 'ipartial'

/** A validated `GET /pins` query. */
export interface PinQuery {
  cids?: string[]
  name?: string
  match: TextMatch
  statuses: PinState[]
  /** Exclusive bounds in ms since the epoch. */
  before?: number
  after?: number
  limit: number
  meta?: Record<string, string>
}

/** A page of results and the total number matching the filters. */
export interface PinPage {
  count: number
  results: PinRecord[]
}

/** A DAG whose blocks are all stored locally (an upload): its distinct blocks and their total size. */
export interface StoredDag {
  blocks: CID[]
  dagSize: number
}

/** How a request is made. */
export interface AddOptions {
  signal?: AbortSignal
  /** The stored block list (upload-blocks.ts) of the CAR upload making this request, if any. */
  upload?: string
  /** Written in the new record's creation batch (the key naming it under its CAR upload, until answered). */
  alongside?: (record: PinRecord) => ExtraOp[]
}

/** The domain API the HTTP layer uses; every call is scoped to one owner. */
export interface PinService {
  add(owner: string, request: PinRequest, options?: AddOptions): Promise<PinRecord>
  /**
   * Records a request for a DAG that is stored locally already: charged its
   * size against the owner's quota, pinned and settled at once, no fetch.
   * The caller keeps the blocks from garbage collection until this resolves.
   */
  addStored(
    owner: string, request: PinRequest, dag: StoredDag, options?: Pick<AddOptions, 'alongside'>
  ): Promise<PinRecord>
  /**
   * Throws InsufficientFundsError unless `owner` has room for one more
   * request of at least `bytes`; resolves with the bytes left (Infinity
   * without a byte limit). For refusing an upload before reading it.
   */
  checkRoom(owner: string, bytes: number): Promise<number>
  get(owner: string, requestid: string): Promise<PinRecord>
  list(owner: string, query: PinQuery): Promise<PinPage>
  replace(owner: string, requestid: string, request: PinRequest): Promise<PinRecord>
  remove(owner: string, requestid: string): Promise<void>
  /** Removes every request of `owner` (when the user is deleted); returns how many. */
  removeAll(owner: string): Promise<number>
  /** Human-readable progress for a queued or pinning request, if any. */
  statusDetails(record: PinRecord): string | undefined
}
