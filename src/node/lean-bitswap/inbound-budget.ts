/**
 * Bounds on what peers' unfinished inbound messages make Pinery hold. A message is kept until its
 * last byte arrives; without a bound, a stranger could send all but the last byte of a 4 MiB message
 * on each of the 32 bitswap streams a connection may open, on each of many connections, and park it
 * for free (the hostile review measured 15 streams holding 79 MB, still held 20 s later). Honest
 * peers have few messages unfinished at a time: Pinery sends on one stream per peer, Helia on a stream
 * per message one after another, and kubo on a stream per message all at once (up to the wants), but
 * each of those is one block, ~256 KiB, read as it arrives: the per-connection bound is 64 of them.
 */
import { Counts } from '../../counts.js'
import { createKeyedBuckets } from '../../token-bucket.js'
import { BadMessageError } from './receive.js'

/** Unfinished message bytes one connection may hold, over all its inbound bitswap streams. */
export const MAX_UNFINISHED_PER_CONNECTION = 16 * 1024 * 1024
/** Unfinished message bytes all peers together may hold. */
export const MAX_UNFINISHED = 256 * 1024 * 1024
/** A message with no new byte for this long ends its stream (as a send the peer does not take: outbox.ts). */
export const UNFINISHED_STALL_MS = 30_000

/** One inbound stream's share. */
export interface StreamBudget {
  /** What the stream's reader holds now; throws a BadMessageError when that is over a bound (nothing is counted). */
  hold(bytes: number): void
  /** The stream ended: what it held is given back, its stall timer stops. */
  close(): void
}

/** The bounds, shared by every inbound bitswap stream of the node. */
export interface InboundBudget {
  /** A new stream on connection `connectionId`; `onStall` ends it when its message stops moving. */
  open(connectionId: string, onStall: (err: Error) => void): StreamBudget
  /** Bytes held now, all connections together (tests). */
  held(): number
}

/** Settings (tests make them small). */
export interface InboundBudgetInit {
  perConnection?: number
  total?: number
  stallMs?: number
}

/** Creates the node's budget. */
export function createInboundBudget (init: InboundBudgetInit = {}): InboundBudget {
  const perConnection = init.perConnection ?? MAX_UNFINISHED_PER_CONNECTION
  const total = init.total ?? MAX_UNFINISHED
  const stallMs = init.stallMs ?? UNFINISHED_STALL_MS
  const byConnection = new Counts<string>()
  let all = 0

  function add (connectionId: string, delta: number): void {
    byConnection.add(connectionId, delta)
    all += delta
  }

  return {
    open (connectionId, onStall) {
      let mine = 0
      let moved = 0
      let timer: NodeJS.Timeout | undefined
      const check = (): void => {
        timer = undefined
        if (mine === 0) return
        const idle = performance.now() - moved
        if (idle >= stallMs) {
          onStall(new BadMessageError(`a message made no progress for ${stallMs} ms`))
          return
        }
        timer = setTimeout(check, stallMs - idle)
        timer.unref()
      }
      return {
        hold (bytes) {
          const delta = bytes - mine
          if (delta > 0) {
            if (byConnection.count(connectionId) + delta > perConnection) {
              throw new BadMessageError(`unfinished messages over ${perConnection} bytes on one connection`)
            }
            if (all + delta > total) throw new BadMessageError(`unfinished messages over ${total} bytes in all`)
          }
          if (delta !== 0) moved = performance.now()
          add(connectionId, delta)
          mine = bytes
          if (mine > 0 && timer == null) {
            timer = setTimeout(check, stallMs)
            timer.unref()
          }
        },
        close () {
          clearTimeout(timer)
          timer = undefined
          add(connectionId, -mine)
          mine = 0
        }
      }
    },
    held: () => all
  }
}

/**
 * Wantlist entries the peers at one remote address may have read per second, and at once. An honest
 * peer sends about two per block it is sent (the want, then the cancel it sends every peer once it has
 * the block) plus a full wantlist when it connects: Helia keeps ≤ 1,024 wants, kubo and Pinery ≤ 4,096.
 * At ~30,000 small blocks a second served, that is ~60,000 entries. A flood of 4 MiB wantlists is ~80,000
 * entries each, ~800,000 a second from one peer at 40 MB/s; entries past the budget are dropped unread
 * (see PeerLedger.update).
 */
export const WANTLIST_ENTRIES_PER_SECOND = 100_000
/** The budget's burst: one full message's worth (a 4 MiB wantlist holds ~80,000 entries). */
export const WANTLIST_ENTRIES_BURST = 100_000

/** Remote addresses whose entry budgets are kept (the least recently used goes first, starting full again). */
const MAX_ENTRY_ADDRESSES = 10_000

/** Settings of {@link createEntryRates}. */
export interface EntryRateInit { perSecond?: number, burst?: number }

/** A budget of wantlist entries: a view of its remote address's token bucket. */
export interface EntryRate {
  /** Takes up to `n` entries from the budget and returns how many were granted (0 when none is left). */
  take(n: number): number
  /** Whole entries the budget holds now. */
  available(): number
}

/** The node's entry budgets, by remote address. */
export interface EntryRates {
  /**
   * The budget of the peers at `group` (an address, an IPv6 one's /64: connection-limits.ts addressGroup).
   * Keyed by address, not by peer: a peer ID is free to make, and each fresh one got a fresh burst (~5–30 ms
   * of reading, hostile review round ten); now every peer ID from one address draws on one budget.
   */
  of(group: string): EntryRate
}

/** Creates the budgets; each address's starts full. */
export function createEntryRates (init: EntryRateInit = {}): EntryRates {
  const buckets = createKeyedBuckets({
    perSecond: init.perSecond ?? WANTLIST_ENTRIES_PER_SECOND,
    burst: init.burst ?? WANTLIST_ENTRIES_BURST,
    maxKeys: MAX_ENTRY_ADDRESSES
  })
  return {
    of: (group) => ({
      take: (n) => buckets.get(group).takeUpTo(n),
      available: () => Math.floor(buckets.get(group).tokens())
    })
  }
}
