/**
 * The bytes of messages the lean sender has handed to peers that have not taken them yet (their yamux window
 * shut: a message waits in the stream's write buffer until the peer reads), counted node-wide, with a hard cap.
 *
 * Why: a peer that wants blocks and never reads holds one message of them for as long as it stays connected
 * (SENDERS_MAX_HELD_BYTES bounds the blocks read ahead, not this one; the 30 s send timeout only sends the next want
 * on a fresh stream). A message is a 1 MiB batch or one block up to 2 MiB (a CAR's blocks may be that large), so
 * 1,000 connections (the node's cap, no token needed) held up to ~2–3 GiB: `scripts/hostile/unread-blocks.ts`,
 * 400 silent peers wanting a pinned file of 2 MiB leaves took the service from 298 to 1,409 MiB (round fourteen).
 *
 * Past the cap the message that has waited *longest* is dropped: its stream is reset and the peer's wants are
 * forgotten (bitswap lets a sender drop wants; an honest peer wants again). Not the newest, and not a wait for
 * room: a cap that made senders wait would let a few silent peers stop every transfer. Why this spares honest
 * peers: a peer that reads takes a message within a round trip or so of it being sent, while a silent one holds
 * it until it is dropped; for an honest message to be the oldest, attackers would have to park the whole cap in
 * fresh messages after it, which means reading a block from disk and sending into their window for each — what
 * serving them at full speed costs anyway.
 */

/**
 * Bytes of messages waiting for their peers, node-wide: as much as the node's cap on unclaimed inbound stream
 * bytes (inbound-streams.ts). An honest peer served at full speed holds at most one message waiting (a 1 MiB
 * batch; one 2 MiB block at most), so this is ~64–128 peers fetching at once before the oldest wait is dropped.
 */
export const SENDERS_MAX_PARKED_BYTES = 128 * 1024 * 1024

/** Messages waiting for their peers, oldest first, with the cap. */
export interface ParkedSends {
  /**
   * Counts a message of `bytes` as waiting; `evict` is called (at once, or later while it waits) if it is the
   * oldest wait when the cap is passed. Returns the call that ends the wait (idempotent).
   */
  park(bytes: number, evict: () => void): () => void
  /** Bytes waiting now. */
  bytes(): number
  /** Waits dropped so far. */
  evicted(): number
}

/** Settings of the count. */
export interface ParkedSendsInit {
  /** The cap; SENDERS_MAX_PARKED_BYTES when absent (tests make it small). */
  maxBytes?: number
}

/** Creates the node's count of waiting messages. */
export function createParkedSends (init: ParkedSendsInit = {}): ParkedSends {
  const max = init.maxBytes ?? SENDERS_MAX_PARKED_BYTES
  // Insertion order is age: the first entry has waited longest.
  const waits = new Map<symbol, { bytes: number, evict: () => void }>()
  let total = 0
  let evicted = 0
  const end = (key: symbol): void => {
    const wait = waits.get(key)
    if (wait == null) return
    waits.delete(key)
    total -= wait.bytes
  }
  return {
    park (bytes, evict) {
      const key = Symbol('wait')
      waits.set(key, { bytes, evict })
      total += bytes
      for (const [oldest, wait] of waits) {
        // The newest wait is never dropped for itself: one message always fits.
        if (total <= max || oldest === key) break
        end(oldest)
        evicted++
        wait.evict()
      }
      return () => { end(key) }
    },
    bytes: () => total,
    evicted: () => evicted
  }
}
