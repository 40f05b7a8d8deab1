/**
 * Per-user quotas: a limit on pin requests (queued, pinning or pinned; failed
 * ones hold nothing) and on pinned bytes, where each distinct CID is charged
 * its dagSize once however many of the user's requests name it. Checks and
 * the writes they allow are serialised per user, so concurrent requests
 * cannot together slip past a limit.
 */
import { InsufficientFundsError, TooManyPendingError, UnauthorizedError } from '../errors.js'
import { createKeyedMutex } from './keyed-mutex.js'
import { Counts } from '../counts.js'
import { formatBytes } from '../byte-size.js'
import type { PinIndex } from './query-index.js'

/** A user's limits; an absent field is unlimited. */
export interface Limits {
  /** Pinned bytes (dagSize, once per distinct CID). */
  bytes?: number
  /** Pin requests that are queued, pinning or pinned. */
  pins?: number
}

/** What a new or settling request asks of its owner's quota. */
export interface QuotaWant {
  cidKey: string
  /** The DAG's size when known (pinned already, imported, fetched). */
  bytes?: number
  /** The request counts against the pin limit already (it is settling, or replaces a live request). */
  counted?: boolean
  /**
   * CIDs this request lets go of once it settles (what it replaces or holds):
   * their bytes count as free unless another request keeps them.
   */
  frees?: string[]
  /** The request will wait for a fetch (queued) and is not replacing one that waits already. */
  pends?: boolean
  /** Bytes of the request's meta (metaBytesOf), and of the meta of the request it replaces. */
  meta?: { adds: number, frees?: number }
}

/** Quota checks. */
export interface Quota {
  /**
   * Runs `commit` (the write that adds or settles a request) if `owner` has
   * room for `want`, else throws InsufficientFundsError naming the limit.
   * Serialised per owner with every other admit.
   */
  admit<T>(owner: string, want: QuotaWant, commit: () => Promise<T>): Promise<T>
  /**
   * Bytes `owner` may still pin for `cidKey` (Infinity without a byte limit or
   * when the CID is charged already), counting what `frees` lets go of as free.
   */
  remaining(owner: string, cidKey: string, frees?: string[]): Promise<number>
  /** The owner's limits (empty when unlimited). */
  limits(owner: string): Promise<Limits>
  /**
   * Refuses new admits for `owner` (UnauthorizedError), waits for those in
   * progress, runs `work` (deleting the user), then lets admits in again.
   * Nothing the work removes can be recreated behind its back.
   */
  retire<T>(owner: string, work: () => Promise<T>): Promise<T>
}

/** Limits every user has. */
export interface QuotaInit {
  /** Requests of one user that may be queued or pinning at once. */
  maxPendingPerUser: number
  /**
   * Bytes of meta (as JSON) one user's requests may carry in all (Infinity: no bound). Every
   * request's meta stays in memory (the query index) and on disk: without a bound, 15,000 pins
   * of 16 KiB meta each took +440 MB RSS and +474 MB LevelDB.
   */
  maxMetaBytesPerUser?: number
}

/** What quotas are computed from. */
export interface QuotaComponents {
  index: Pick<PinIndex, 'usage' | 'chargeOf'>
  /** The owner's limits, if any; null when there is no such user (deleted meanwhile). */
  limitsOf(owner: string): Promise<Limits | undefined | null>
  /** The DAG size of a CID pinned already (for requests that need no fetch). */
  pinnedSize(cidKey: string): Promise<number | undefined>
}

/** Creates the quota checker. */
export function createQuota (init: QuotaInit, components: QuotaComponents): Quota {
  const { index } = components
  const lock = createKeyedMutex()
  const inFlight = new Counts<string>()
  // Admissions between their pending check and their record reaching the index.
  const pendingAdmits = new Counts<string>()
  // Meta bytes of admissions between their check and their record reaching the index.
  const metaAdmits = new Counts<string>()
  const retiring = new Map<string, () => void>()

  async function admitting<T> (owner: string, work: () => Promise<T>): Promise<T> {
    if (retiring.has(owner)) throw new UnauthorizedError(`user ${owner} is being deleted`)
    inFlight.add(owner)
    try {
      return await work()
    } finally {
      if (inFlight.add(owner, -1) === 0) retiring.get(owner)?.()
    }
  }

  async function limits (owner: string): Promise<Limits> {
    const limit = await components.limitsOf(owner)
    // An upload or fetch that outlived its user's deletion must not leave a request behind.
    if (limit === null) throw new UnauthorizedError(`user ${owner} does not exist (any more)`)
    return limit ?? {}
  }

  // What letting go of `cidKeys` frees: the CIDs nothing else of the owner keeps.
  function freed (owner: string, cidKeys: string[] = []): number {
    return [...new Set(cidKeys)].reduce((sum, key) => {
      const charge = index.chargeOf(owner, key)
      return sum + (charge?.refs === 1 ? charge.size : 0)
    }, 0)
  }

  /**
   * Checks and reserves room for one more pending request, synchronously (so
   * two admits at the cap cannot both pass); returns the release. Counts an
   * admission whose record is written but not yet released twice, for a
   * moment: it errs on the side of the cap.
   */
  function reservePending (owner: string, want: QuotaWant): () => void {
    if (want.pends !== true) return () => {}
    const { counts } = index.usage(owner)
    const pending = counts.queued + counts.pinning + pendingAdmits.count(owner)
    if (pending >= init.maxPendingPerUser) {
      throw new TooManyPendingError(
        `user ${owner} has ${pending} requests queued or pinning, the most one user may have ` +
        `(PINERY_MAX_PENDING_PER_USER=${init.maxPendingPerUser}); wait for some to settle`)
    }
    pendingAdmits.add(owner)
    return () => { pendingAdmits.add(owner, -1) }
  }

  /** As reservePending, for the owner's meta bytes. */
  function reserveMeta (owner: string, want: QuotaWant): () => void {
    const max = init.maxMetaBytesPerUser ?? Infinity
    const adds = want.meta?.adds ?? 0
    if (adds === 0) return () => {}
    const used = index.usage(owner).metaBytes + metaAdmits.count(owner)
    if (used + adds - (want.meta?.frees ?? 0) > max) {
      throw new InsufficientFundsError(
        `meta quota exceeded: user ${owner}'s requests carry ${formatBytes(used)} of meta, and ${formatBytes(adds)} ` +
        `more do not fit in the ${formatBytes(max)} one user may have (PINERY_MAX_META_BYTES_PER_USER); ` +
        'delete requests or send less meta')
    }
    metaAdmits.add(owner, adds)
    return () => { metaAdmits.add(owner, -adds) }
  }

  function check (owner: string, limit: Limits, want: QuotaWant): void {
    const usage = index.usage(owner)
    if (limit.pins != null && want.counted !== true) {
      const held = usage.counts.queued + usage.counts.pinning + usage.counts.pinned
      if (held + 1 > limit.pins) {
        throw new InsufficientFundsError(`pin limit reached: user ${owner} has ${held} of ${limit.pins} pins`)
      }
    }
    if (limit.bytes == null || index.chargeOf(owner, want.cidKey) != null) return
    const left = Math.max(0, limit.bytes - usage.bytes + freed(owner, want.frees))
    if (want.bytes == null ? left === 0 : want.bytes > left) {
      const size = want.bytes == null ? '' : ` of ${formatBytes(want.bytes)}`
      throw new InsufficientFundsError(
        `storage quota exceeded: the DAG${size} does not fit in the ${formatBytes(left)} left ` +
        `of user ${owner}'s ${formatBytes(limit.bytes)} quota`)
    }
  }

  return {
    async admit (owner, want, commit) {
      return await admitting(owner, async () => {
        const release = reservePending(owner, want)
        let releaseMeta = (): void => {}
        try {
          releaseMeta = reserveMeta(owner, want)
          const limit = await limits(owner)
          // Unlimited users skip the lock: nothing to race for.
          if (limit.pins == null && limit.bytes == null) return await commit()
          // A DAG pinned already is charged its known size at once.
          const bytes = want.bytes ?? (limit.bytes == null ? undefined : await components.pinnedSize(want.cidKey))
          return await lock.run(owner, async () => {
            check(owner, limit, { ...want, ...(bytes != null ? { bytes } : {}) })
            return await commit()
          })
        } finally {
          release()
          releaseMeta()
        }
      })
    },

    async retire (owner, work) {
      if (retiring.has(owner)) throw new UnauthorizedError(`user ${owner} is being deleted`)
      const drained = new Promise<void>(resolve => { retiring.set(owner, resolve) })
      try {
        if (inFlight.has(owner)) await drained
        return await work()
      } finally {
        retiring.delete(owner)
      }
    },

    async remaining (owner, cidKey, frees) {
      const limit = await limits(owner)
      if (limit.bytes == null || index.chargeOf(owner, cidKey) != null) return Infinity
      return Math.max(0, limit.bytes - index.usage(owner).bytes + freed(owner, frees))
    },

    limits
  }
}
