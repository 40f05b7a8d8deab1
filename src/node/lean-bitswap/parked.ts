/**
 * The bytes of messages the lean sender has handed to peers that have not taken them yet (their yamux window
 * shut: a message waits in the stream's write buffer until the peer reads), counted node-wide, with a hard cap.
 *
 * Why: a peer that wants blocks and never reads holds one message of them for as long as it stays connected
 * (SENDERS_MAX_HELD_BYTES bounds the blocks read ahead, not this one; the 30 s send timeout only sends the next
 * want on a fresh stream). A message is a 1 MiB batch or one block up to 2 MiB (a CAR's blocks may be that large), so
 * 1,000 connections (the node's cap, no token needed) held up to ~2–3 GiB: `scripts/hostile/unread-blocks.ts`,
 * 400 silent peers wanting a pinned file of 2 MiB leaves took the service from 298 to 1,409 MiB (round fourteen).
 *
 * Past the cap a message of the address group (an IPv4 address, an IPv6 /64: inbound-rate.ts) holding the most
 * bytes waiting is dropped, the one of it that has waited longest: its stream is reset and the peer's wants are
 * forgotten (bitswap lets a sender drop wants; an honest peer wants again). Not the newest, and not a wait for
 * room: a cap that made senders wait would let a few silent peers stop every transfer. Not the node's oldest
 * either (round fourteen): silent peers from one address, each parking a fresh message, pushed out a slow honest
 * peer's message, which is the oldest for as long as it is read slowly. By group: peer IDs cost nothing, but an
 * attacker has to hold as much waiting from each of its addresses as the honest peer's address holds before the
 * honest message is dropped (`scripts/hostile/unread-blocks.ts --mode fair`).
 */

/**
 * Bytes of messages waiting for their peers, node-wide: as much as the node's cap on unclaimed inbound stream
 * bytes (inbound-streams.ts). An honest peer served at full speed holds at most one message waiting (a 1 MiB
 * batch; one 2 MiB block at most), so this is ~64–128 peers fetching at once before a wait is dropped.
 */
export const SENDERS_MAX_PARKED_BYTES = 128 * 1024 * 1024

/** Messages waiting for their peers, by address group, oldest first in each, with the cap. */
export interface ParkedSends {
  /**
   * Counts a message of `bytes` from `group` (its peer's address group; '' when unknown) as waiting; `evict` is
   * called (at once, or later while it waits) if it is chosen when the cap is passed. Returns the call that ends
   * the wait (idempotent).
   */
  park(bytes: number, evict: () => void, group?: string): () => void
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

interface Wait { bytes: number, evict: () => void, group: Group }
interface Group { name: string, bytes: number, waits: Map<symbol, Wait> }

/** Creates the node's count of waiting messages. */
export function createParkedSends (init: ParkedSendsInit = {}): ParkedSends {
  const max = init.maxBytes ?? SENDERS_MAX_PARKED_BYTES
  const groups = new Map<string, Group>()
  let total = 0
  let evicted = 0
  const end = (key: symbol, wait: Wait): void => {
    const { group } = wait
    if (!group.waits.delete(key)) return
    group.bytes -= wait.bytes
    total -= wait.bytes
    if (group.waits.size === 0) groups.delete(group.name)
  }
  /**
   * The longest waiting of the group holding the most, other than `spared`. A scan of the groups: as many as
   * the addresses with a message waiting, at most the node's connections.
   */
  const victim = (spared: symbol): [symbol, Wait] | undefined => {
    let most: [symbol, Wait] | undefined
    let mostBytes = -1
    for (const group of groups.values()) {
      if (group.bytes <= mostBytes) continue
      for (const entry of group.waits) {
        if (entry[0] === spared) continue
        most = entry
        mostBytes = group.bytes
        break
      }
    }
    return most
  }
  return {
    park (bytes, evict, name = '') {
      const key = Symbol('wait')
      let group = groups.get(name)
      if (group == null) { group = { name, bytes: 0, waits: new Map() }; groups.set(name, group) }
      const wait = { bytes, evict, group }
      group.waits.set(key, wait)
      group.bytes += bytes
      total += bytes
      while (total > max) {
        // The newest wait is never dropped for itself: one message always fits.
        const dropped = victim(key)
        if (dropped == null) break
        end(...dropped)
        evicted++
        dropped[1].evict()
      }
      return () => { end(key, wait) }
    },
    bytes: () => total,
    evicted: () => evicted
  }
}
