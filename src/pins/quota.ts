/**
 * Per-user quotas: a limit on pin requests (queued, pinning or pinned; failed
 * ones hold nothing) and on pinned bytes, where each distinct CID is charged
 * its dagSize once however many of the user's requests name it. Checks and
 * the writes they allow are serialised per user, so concurrent requests
 * cannot together slip past a limit.
 */
import { InsufficientFundsError } from '../errors.js'
import { createKeyedMutex } from './keyed-mutex.js'
import type { PinIndex } from './pin-index.js'

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
  /** The CID of a pinned request this one replaces: its bytes are freed unless another request names it. */
  frees?: string
}

/** Quota checks. */
export interface Quota {
  /**
   * Runs `commit` (the write that adds or settles a request) if `owner` has
   * room for `want`, else throws InsufficientFundsError naming the limit.
   * Serialised per owner with every other admit.
   */
  admit<T>(owner: string, want: QuotaWant, commit: () => Promise<T>): Promise<T>
  /** Bytes `owner` may still pin for `cidKey` (Infinity without a byte limit or when the CID is charged already). */
  remaining(owner: string, cidKey: string): Promise<number>
  /** The owner's limits (empty when unlimited). */
  limits(owner: string): Promise<Limits>
}

/** What quotas are computed from. */
export interface QuotaComponents {
  index: Pick<PinIndex, 'usage' | 'chargeOf'>
  /** The owner's limits, if any. */
  limitsOf(owner: string): Promise<Limits | undefined>
  /** The DAG size of a CID pinned already (for requests that need no fetch). */
  pinnedSize(cidKey: string): Promise<number | undefined>
}

/** Creates the quota checker. */
export function createQuota (components: QuotaComponents): Quota {
  const { index } = components
  const lock = createKeyedMutex()

  async function limits (owner: string): Promise<Limits> {
    return await components.limitsOf(owner) ?? {}
  }

  function check (owner: string, limit: Limits, want: QuotaWant): void {
    const usage = index.usage(owner)
    if (limit.pins != null && want.counted !== true) {
      const held = usage.counts.queued + usage.counts.pinning + usage.counts.pinned
      if (held + 1 > limit.pins) throw new InsufficientFundsError(`pin limit reached: user ${owner} has ${held} of ${limit.pins} pins`)
    }
    if (limit.bytes == null || index.chargeOf(owner, want.cidKey) != null) return
    // A replaced pin that was the only one naming its CID frees that CID's bytes.
    const old = want.frees == null ? undefined : index.chargeOf(owner, want.frees)
    const freed = old?.refs === 1 ? old.size : 0
    const left = Math.max(0, limit.bytes - usage.bytes + freed)
    if (want.bytes == null ? left === 0 : want.bytes > left) {
      const size = want.bytes == null ? '' : ` of ${want.bytes} bytes`
      throw new InsufficientFundsError(`storage quota exceeded: the DAG${size} does not fit in the ${left} bytes left of user ${owner}'s ${limit.bytes} byte quota`)
    }
  }

  return {
    async admit (owner, want, commit) {
      const limit = await limits(owner)
      // Unlimited users skip the lock: nothing to race for.
      if (limit.pins == null && limit.bytes == null) return await commit()
      // A DAG pinned already is charged its known size at once.
      const bytes = want.bytes ?? (limit.bytes == null ? undefined : await components.pinnedSize(want.cidKey))
      return await lock.run(owner, async () => {
        check(owner, limit, { ...want, ...(bytes != null ? { bytes } : {}) })
        return await commit()
      })
    },

    async remaining (owner, cidKey) {
      const limit = await limits(owner)
      if (limit.bytes == null || index.chargeOf(owner, cidKey) != null) return Infinity
      return Math.max(0, limit.bytes - index.usage(owner).bytes)
    },

    limits
  }
}
