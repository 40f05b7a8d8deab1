/**
 * Pinery's side as a sender, for one peer: what the peer wants, and a loop that reads the wanted
 * blocks from the blockstore a few at a time and streams each batch out as soon as it is read.
 * @helia/bitswap reads every wanted block into one message (64 MiB for 256 wants) before it sends
 * its first 4 MiB piece: ~355 ms before the first leaf at 0 ms RTT in round two's probe, and most
 * of its sending CPU in copies and garbage. Here memory per peer is bounded by the wantlist cap,
 * the read-ahead and one message; a cancel drops a want that is queued or still being read.
 * With `readInto`, blocks are read into reused slots (the gateway's pool and blockstore call), lent
 * to the outbox and given back once the connection is done with them.
 */
import toBuffer from 'it-to-buffer'
import { IDENTITY } from '../../pins/cid.js'
import { createEntryRates, type EntryRate } from './inbound-budget.js'
import { BlockPresenceType } from './message.js'
import { WantlistReader } from './wantlist-reader.js'
import { MAX_MESSAGE_BYTES, cidPrefix } from './wire.js'
import type { Block, BlockPresence } from './message.js'
import type { Outbox } from './outbox.js'
import type { BufferPool } from '../../content/batched-writer.js'
import type { Semaphore } from '../../pins/semaphore.js'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** Room left in a message for everything but block bytes. */
const MESSAGE_OVERHEAD = 64 * 1024

/**
 * Bytes of blocks all peers' ledgers together hold (read ahead, or in a message the peer has not taken yet) beyond
 * one block each. A peer that wants blocks and never reads holds what it was sent for as long as it likes: with
 * 8 reads ahead and a 1 MiB message each, 500 such peers (a connection each, no token needed) took the
 * service from 566 to 1,610 MiB, and the connection cap allows 1,000 (hostile review, round nine). Past
 * this, every peer still reads one block at a time (none waits for another: a cap on everything would let
 * a few silent peers stop every transfer). Counted in bytes since round fifteen: as 128 *blocks* it let 2 MiB
 * blocks (a CAR's largest) hold 256 MiB, and 400 paused peers kept the service at 0.47–0.89 GB of ArrayBuffers.
 * 32 MiB is what 128 blocks of Pinery's own 256 KiB chunks were: ~16 peers served at full read-ahead at once.
 */
export const SENDERS_MAX_HELD_BYTES = 32 * 1024 * 1024

/**
 * What a read is counted as until it is done and its size known: a CAR's largest block. So that reads started
 * together (many peers, or one peer's read-ahead) cannot pass the bounds before their sizes are known.
 */
export const READ_RESERVE_BYTES = 2 * 1024 * 1024

/** Bytes held by the node's ledgers (see SENDERS_MAX_HELD_BYTES), shared by all of them. */
export interface SenderShare { held: number, maxBytes?: number }

/** The wants of one peer, answered in the order they came. */
export interface PeerLedger {
  /**
   * Applies a received wantlist, given as its bytes or the chunks they lie in (adds, cancels, or replaces
   * all when `full`), as far as the peer's entry budget goes; the entries past it are dropped unread. False
   * when the budget cut it.
   * Throws a BadMessageError when the wantlist is malformed or holds more than `maxEntries`.
   */
  update(wantlist: Uint8Array | Uint8Array[], decodeCid: (bytes: Uint8Array) => CID | undefined): boolean
  /** Wants queued or being read (tests). */
  size(): number
  /** Drops every want; the loop ends after the message it is sending. */
  close(): void
}

/** Bounds of one peer's ledger. */
export interface PeerLedgerInit {
  /** Wants kept per peer; more are ignored (a peer re-sends them later). */
  maxWants: number
  /** A message is sent once it holds this many block bytes (or nothing more is read yet). */
  batchBytes: number
  /** The node's count of held bytes, when shared (see SENDERS_MAX_HELD_BYTES); else this peer's own. */
  share?: SenderShare
  /** Entries one wantlist may hold (more: BadMessageError). */
  maxEntries?: number
  /** The budget of wantlist entries of the peer's address (inbound-budget.ts); a fresh default one when absent. */
  entries?: EntryRate
}

/** Where blocks come from and go to. */
export interface PeerLedgerComponents {
  blockstore: Pick<Blockstore, 'get' | 'has'>
  outbox: Outbox
  /** Shared by all peers: block reads in flight, which bounds what the senders hold. */
  reads: Semaphore
  /** Reads a block into `target` when it fits (DurableFsBlockstore.getInto); without it, blockstore.get. */
  readInto?: BlockReadInto
  /** Buffers `readInto` reads into; shared by all peers. */
  slots?: BufferPool
}

/** Reads a block into `target` when it fits (a view of it), else into a new buffer; throws when missing. */
export type BlockReadInto = (cid: CID, target: Uint8Array, options: { signal?: AbortSignal }) => Promise<Uint8Array>

interface Want { key: string, cid: CID, block: boolean, sendDontHave: boolean }
interface Read {
  want: Want
  cancelled: boolean
  done: boolean
  bytes?: Uint8Array
  /** The pooled buffer `bytes` lies in, to give back once sent (or dropped). */
  slot?: Uint8Array
  released?: boolean
  /** Bytes counted for it: READ_RESERVE_BYTES until done, then its size; 0 once let go. */
  held: number
  promise: Promise<void>
}

/** Creates the ledger of one peer. */
export function createPeerLedger (init: PeerLedgerInit, components: PeerLedgerComponents): PeerLedger {
  const { blockstore, outbox, reads, readInto, slots } = components
  const queued = new Map<string, Want>()
  const reading = new Map<string, Read>()
  const inFlight: Read[] = []
  let running = false
  let closed = false
  const share = init.share ?? { held: 0 }
  const entries = init.entries ?? createEntryRates().of('')
  const maxHeld = share.maxBytes ?? SENDERS_MAX_HELD_BYTES
  // Bytes of the reads this peer holds: started, and not yet sent (and taken) or dropped.
  let mine = 0
  const count = (read: Read, bytes: number): void => {
    mine += bytes - read.held
    share.held += bytes - read.held
    read.held = bytes
  }
  const release = (...done: Read[]): void => { for (const read of done) { count(read, 0); read.released = true } }

  function startRead (want: Want): void {
    const read: Read = { want, cancelled: false, done: false, held: 0, promise: Promise.resolve() }
    count(read, READ_RESERVE_BYTES)
    read.promise = (async () => {
      await reads.acquire()
      try {
        if (read.cancelled || closed) return
        if (!want.block) {
          if (await blockstore.has(want.cid)) read.bytes = new Uint8Array(0)
        } else if (readInto == null || slots == null || want.cid.multihash.code === IDENTITY) {
          read.bytes = await toBuffer(blockstore.get(want.cid))
        } else {
          const slot = slots.take()
          try {
            read.bytes = await readInto(want.cid, slot, {})
          } finally {
            // Too large for a slot: read into a buffer of its own, and the slot is free again.
            if (read.bytes?.buffer === slot.buffer) read.slot = slot
            else slots.give(slot)
          }
        }
      } catch {
        // Missing (or unreadable): answered with DONT_HAVE when the peer asked for it.
      } finally {
        reads.release()
        read.done = true
        // Its size is known now: counted as it is, and the room it leaves read into at once.
        if (read.released !== true) { count(read, read.bytes?.byteLength ?? 0); if (!closed) fill() }
      }
    })()
    reading.set(want.key, read)
    inFlight.push(read)
  }

  /**
   * Starts reads while the peer holds fewer than two, or its read-ahead (in reads and in bytes) and the node's
   * share have room; a peer holding nothing always reads one.
   */
  function fill (): void {
    for (const [key, want] of queued) {
      if (inFlight.length >= 2 && (inFlight.length >= aheadReads || mine >= aheadBytes)) break
      if (mine > 0 && share.held >= maxHeld) break
      queued.delete(key)
      startRead(want)
    }
  }

  async function run (): Promise<void> {
    running = true
    try {
      while (!closed && (queued.size > 0 || inFlight.length > 0)) {
        fill()
        await (inFlight[0] as Read).promise
        const blocks: Block[] = []
        const presences: BlockPresence[] = []
        const lent: Uint8Array[] = []
        const sending: Read[] = []
        let bytes = 0
        while (inFlight.length > 0 && (inFlight[0] as Read).done && bytes < init.batchBytes) {
          const read = inFlight[0] as Read
          const size = read.bytes?.byteLength ?? 0
          if (read.want.block && blocks.length > 0 && bytes + size > MAX_MESSAGE_BYTES - MESSAGE_OVERHEAD) break
          inFlight.shift()
          if (reading.get(read.want.key) === read) reading.delete(read.want.key)
          const { cid, block, sendDontHave } = read.want
          let sent = false
          if (read.cancelled) {
            // Not sent: its slot is free again (the read has finished, nothing writes into it).
          } else if (read.bytes == null) {
            if (sendDontHave) presences.push({ cid: cid.bytes, type: BlockPresenceType.DontHave })
          } else if (!block) {
            presences.push({ cid: cid.bytes, type: BlockPresenceType.Have })
          } else if (size <= MAX_MESSAGE_BYTES - MESSAGE_OVERHEAD) {
            blocks.push({ prefix: cidPrefix(cid), data: read.bytes })
            sent = true
            sending.push(read)
            bytes += size
            if (read.slot != null) { lent.push(read.slot); read.slot = undefined }
          }
          if (read.slot != null) slots?.give(read.slot)
          if (!sent) release(read)
          fill()
        }
        if (blocks.length > 0 || presences.length > 0) {
          const released = lent.length > 0 ? () => { for (const slot of lent) slots?.give(slot) } : undefined
          try {
            await outbox.send({ payload: blocks, blockPresences: presences }, { released })
          } finally {
            release(...sending)
          }
        }
      }
    } finally {
      running = false
      // Closed: the reads left are dropped (cancelled).
      release(...inFlight.splice(0))
    }
  }

  // Enough reads ahead to fill the next message while this one is sent, and at least two blocks: in reads (as
  // many as two messages of 256 KiB chunks) and in bytes (two messages), so that larger blocks are fewer.
  const aheadReads = Math.max(2, Math.ceil(init.batchBytes / (256 * 1024)) * 2)
  const aheadBytes = 2 * init.batchBytes

  function cancel (key: string): void {
    queued.delete(key)
    const read = reading.get(key)
    if (read != null) { read.cancelled = true; reading.delete(key) }
  }

  return {
    update (wantlist, decodeCid) {
      if (closed) return true
      // Nothing left of the budget: not even looked at (a flood past it costs only its framing).
      if (entries.available() < 1) return false
      const reader = new WantlistReader(wantlist, init.maxEntries ?? Number.POSITIVE_INFINITY)
      const read = entries.take(reader.count)
      let left = read
      if (reader.full) {
        for (const key of [...queued.keys(), ...reading.keys()]) cancel(key)
      }
      while (left-- > 0 && reader.next()) {
        if (reader.cancel) {
          const key = queued.size + reading.size > 0 ? reader.key() : undefined
          if (key != null) cancel(key)
          continue
        }
        // Past the cap: skipped as it is read (no key, no CID); a want it already holds is no new one either.
        if (queued.size + reading.size >= init.maxWants) continue
        const key = reader.key()
        if (key == null || queued.has(key) || reading.has(key)) continue
        const cid = decodeCid(reader.cid())
        if (cid == null) continue
        queued.set(key, { key, cid, block: !reader.have, sendDontHave: reader.sendDontHave })
      }
      if (!running && (queued.size > 0 || inFlight.length > 0)) void run()
      return read === reader.count
    },
    size () {
      return queued.size + reading.size
    },
    close () {
      closed = true
      queued.clear()
      for (const read of reading.values()) read.cancelled = true
      reading.clear()
    }
  }
}
