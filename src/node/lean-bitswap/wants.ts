/**
 * Pinery's side as a requester: the wants of the DAG walker, sent as want-block (with
 * sendDontHave) to every connected bitswap peer, cancelled everywhere once the block is here or
 * nobody waits for it any more. A new peer gets the whole wantlist. Blocks reach `receive` already
 * hashed and named by their real CID (wire.ts), so a block matches a want only if it is that block.
 */
import { WantType } from './message.js'
import { wantKey } from './wire.js'
import type { BlockBytes } from '../block-bytes.js'
import type { Message, WantlistEntry } from './message.js'
import type { Outbox } from './outbox.js'
import type { CID } from 'multiformats/cid'

/** Wantlist entries per message: ~40 bytes each, far below the 4 MiB limit. */
const ENTRIES_PER_MESSAGE = 8192

/** The requester's side of bitswap. */
export interface Wants {
  /** Resolves with the block's verified bytes (as the pieces they arrived in); rejects when `signal` aborts. */
  want(cid: CID, options: { signal?: AbortSignal }): Promise<BlockBytes>
  /** A verified block arrived from `peer`; true when it was wanted. */
  receive(peer: string, cid: CID, bytes: BlockBytes): boolean
  /** A peer that speaks bitswap connected: it gets the whole wantlist. */
  addPeer(peer: string): void
  removePeer(peer: string): void
  hasPeer(peer: string): boolean
  /** How many CIDs are wanted now (tests). */
  size(): number
  /** Rejects every waiting want and stops sending. */
  stop(): void
}

/** Settings of the requester. */
export interface WantsInit {
  /** How long wants gather before they are sent; 0 sends them in the next turn of the event loop. */
  debounceMs: number
}

/** What the requester sends through. */
export interface WantsComponents {
  outbox(peer: string): Outbox | undefined
}

interface Waiter { resolve: (bytes: BlockBytes) => void, reject: (err: unknown) => void }
interface Entry { cid: CID, waiters: Set<Waiter>, sentTo: Set<string> }

/** Creates the requester. */
export function createWants (init: WantsInit, components: WantsComponents): Wants {
  const entries = new Map<string, Entry>()
  const peers = new Set<string>()
  /** Keys whose want is not yet sent to every peer. */
  const unsent = new Set<string>()
  /** Cancels not yet sent: key → the CID and the peers that had the want. */
  const cancels = new Map<string, { cid: CID, peers: Set<string> }>()
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false

  function schedule (): void {
    if (timer != null || stopped) return
    timer = setTimeout(flush, init.debounceMs)
  }

  function flush (): void {
    timer = undefined
    const perPeer = new Map<string, WantlistEntry[]>()
    const add = (peer: string, entry: WantlistEntry): void => {
      let list = perPeer.get(peer)
      if (list == null) { list = []; perPeer.set(peer, list) }
      list.push(entry)
    }
    for (const [key, cancel] of cancels) {
      for (const peer of cancel.peers) {
        if (peers.has(peer)) add(peer, { cid: cancel.cid.bytes, priority: 0, cancel: true })
      }
      cancels.delete(key)
    }
    for (const key of unsent) {
      const entry = entries.get(key)
      if (entry == null) continue
      for (const peer of peers) {
        if (entry.sentTo.has(peer)) continue
        entry.sentTo.add(peer)
        add(peer, wantEntry(entry.cid))
      }
    }
    unsent.clear()
    for (const [peer, list] of perPeer) sendEntries(peer, list, false)
  }

  function sendEntries (peer: string, list: WantlistEntry[], full: boolean): void {
    const outbox = components.outbox(peer)
    if (outbox == null || list.length === 0) return
    for (let i = 0; i < list.length; i += ENTRIES_PER_MESSAGE) {
      const entries = list.slice(i, i + ENTRIES_PER_MESSAGE)
      const message: Partial<Message> = { wantlist: { entries, full: full && i === 0 } }
      // A lost message is recovered by the walker's re-want timer.
      void outbox.send(message)
    }
  }

  function drop (key: string, entry: Entry): void {
    entries.delete(key)
    unsent.delete(key)
    if (entry.sentTo.size > 0) {
      cancels.set(key, { cid: entry.cid, peers: entry.sentTo })
      schedule()
    }
  }

  return {
    async want (cid, options) {
      options.signal?.throwIfAborted()
      if (stopped) throw new Error('bitswap is stopped')
      const key = wantKey(cid.multihash.bytes)
      let entry = entries.get(key)
      if (entry == null) {
        // A re-want right after a cancel: the cancel is superseded, the want is sent again.
        cancels.delete(key)
        entry = { cid, waiters: new Set(), sentTo: new Set() }
        entries.set(key, entry)
        unsent.add(key)
        schedule()
      }
      const e = entry
      return await new Promise<BlockBytes>((resolve, reject) => {
        const onAbort = (): void => {
          e.waiters.delete(waiter)
          if (e.waiters.size === 0 && entries.get(key) === e) drop(key, e)
          reject(options.signal?.reason)
        }
        const waiter: Waiter = {
          resolve: (bytes) => { options.signal?.removeEventListener('abort', onAbort); resolve(bytes) },
          reject: (err) => { options.signal?.removeEventListener('abort', onAbort); reject(err) }
        }
        e.waiters.add(waiter)
        options.signal?.addEventListener('abort', onAbort, { once: true })
      })
    },
    receive (_peer, cid, bytes) {
      const key = wantKey(cid.multihash.bytes)
      const entry = entries.get(key)
      if (entry == null) return false
      drop(key, entry)
      for (const waiter of entry.waiters) waiter.resolve(bytes)
      return true
    },
    addPeer (peer) {
      if (peers.has(peer) || stopped) return
      peers.add(peer)
      const list: WantlistEntry[] = []
      for (const entry of entries.values()) {
        entry.sentTo.add(peer)
        list.push(wantEntry(entry.cid))
      }
      sendEntries(peer, list, true)
    },
    hasPeer (peer) {
      return peers.has(peer)
    },
    removePeer (peer) {
      peers.delete(peer)
      for (const entry of entries.values()) entry.sentTo.delete(peer)
    },
    size () {
      return entries.size
    },
    stop () {
      stopped = true
      if (timer != null) clearTimeout(timer)
      const err = new Error('bitswap stopped')
      for (const entry of entries.values()) for (const waiter of entry.waiters) waiter.reject(err)
      entries.clear()
    }
  }
}

function wantEntry (cid: CID): WantlistEntry {
  return { cid: cid.bytes, priority: 1, wantType: WantType.Block, sendDontHave: true }
}
