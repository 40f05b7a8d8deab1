/**
 * A lean bitswap 1.2.0 for Pinery (PINERY_BITSWAP=lean): fetches for the DAG walker, and answers
 * other peers' wants (Helia, kubo, other Pinerys) from the blockstore. Kept small on purpose: no
 * sessions, no content routing (Pinery fetches from the peers it is told about), no ledger of sent
 * bytes. What it changes against @helia/bitswap, measured in scripts/bench/RESULTS.md: one
 * long-lived stream per peer instead of one per message, blocks streamed as they are read instead of
 * gathered into one large message, received blocks kept in the chunks they arrived in (receive.ts).
 */
import { UnsupportedProtocolError } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import { createSemaphore } from '../../pins/semaphore.js'
import { BLOCK_SLOT_BYTES, bufferPool, type BufferPool } from '../../content/batched-writer.js'
import { createPeerLedger, type BlockReadInto, type SenderShare } from './ledger.js'
import { createOutbox } from './outbox.js'
import { createParkedSends, type ParkedSendsInit } from './parked.js'
import { createPieceReader, decodeReceived } from './receive.js'
import { multiaddrGroup } from '../../connection-limits.js'
import { createByteBudget, type ByteBudgetInit } from './byte-budget.js'
import { createEntryRates, createInboundBudget, type EntryRateInit, type InboundBudgetInit } from './inbound-budget.js'
import { createWants } from './wants.js'
import { BITSWAP_PROTOCOL, MAX_INBOUND_STREAMS, MAX_MESSAGE_BYTES, v0Cid, verifiedCid } from './wire.js'
import type { BlockBytes } from '../block-bytes.js'
import type { PeerLedger } from './ledger.js'
import type { Outbox } from './outbox.js'
import type { Logger } from '../../logger.js'
import type { Connection, Libp2p, PeerId, Stream, StreamMessageEvent } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'

/** Wants kept per peer (Helia keeps 1024); Pinery itself asks for up to PINERY_FETCH_CONCURRENCY (≤ 4096). */
const MAX_WANTS_PER_PEER = 4096
/** Block reads in flight across all peers being served. */
const MAX_READS = 64
/** Read buffers kept for reuse (~8 MiB): a peer served at full speed has ~13 in use (8 read ahead, one message). */
const FREE_SLOTS = 32
/** Decoding limits: a 4 MiB message cannot hold more of these anyway, this just fails faster. */
const DECODE_LIMITS = { blocks: 100_000, presences: 100_000 }
/** Entries in one wantlist (as protons' limit was): more resets the stream. */
const MAX_WANTLIST_ENTRIES = 100_000

/** The node's bitswap. */
export interface LeanBitswap {
  /** Fetches a block from the connected peers; the bytes (as they arrived) are verified against the CID. */
  want(cid: CID, options: { signal?: AbortSignal }): Promise<BlockBytes>
  /** Registers the protocol; call after libp2p has started. */
  start(): Promise<void>
  stop(): Promise<void>
  /**
   * Wants outstanding, wants held for other peers, bytes of unfinished inbound messages, wantlists cut by
   * a peer's entry budget, inbound streams paused and connections closed by the byte budget, bytes of messages
   * waiting for their peers and waits dropped past the cap (parked.ts), bytes of blocks the senders hold
   * (ledger.ts) (tests).
   */
  stats(): LeanBitswapStats
}

/** What {@link LeanBitswap.stats} counts. */
export interface LeanBitswapStats {
  wanted: number
  serving: number
  unfinished: number
  cut: number
  paused: number
  closed: number
  parked: number
  evicted: number
  held: number
}

/** Settings of the lean bitswap. */
export interface LeanBitswapInit {
  /** How long wants gather before they are sent (PINERY_WANTLIST_DEBOUNCE_MS). */
  wantlistDebounceMs: number
  /** Block bytes per message when sending. */
  batchBytes?: number
  /** Bounds on unfinished inbound messages (defaults in inbound-budget.ts; tests make them small). */
  inbound?: InboundBudgetInit
  /** Each remote address's budget of wantlist entries (defaults in inbound-budget.ts; tests make it small). */
  wantlistEntries?: EntryRateInit
  /** Budgets of bytes from peers Pinery is not fetching from (defaults in byte-budget.ts; tests make them small). */
  inboundBytes?: ByteBudgetInit
  /** The cap on bytes of messages waiting for their peers (default in parked.ts; tests make it small). */
  parked?: ParkedSendsInit
  /** The cap on bytes of blocks the senders hold (SENDERS_MAX_HELD_BYTES in ledger.ts; tests make it small). */
  maxHeldBytes?: number
}

/** What it runs on. */
export interface LeanBitswapComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'register' | 'unregister' | 'getConnections' | 'addEventListener' |
  'removeEventListener'>
  blockstore: Pick<Blockstore, 'get' | 'has'>
  /** Reads blocks into reused buffers when given (see ledger.ts); else every block is a new buffer. */
  readInto?: BlockReadInto
  /** The reused buffers; FREE_SLOTS of BLOCK_SLOT_BYTES when absent. */
  slots?: BufferPool
  logger: Logger
}

/** Creates the lean bitswap; `start` it once libp2p runs. */
export function createLeanBitswap (init: LeanBitswapInit, components: LeanBitswapComponents): LeanBitswap {
  const { libp2p, blockstore } = components
  const log = components.logger.child({ component: 'lean-bitswap' })
  const outboxes = new Map<string, Outbox>()
  const ledgers = new Map<string, PeerLedger>()
  const reads = createSemaphore(MAX_READS)
  const held: SenderShare = { held: 0, ...(init.maxHeldBytes != null ? { maxBytes: init.maxHeldBytes } : {}) }
  const parked = createParkedSends(init.parked)
  const budget = createInboundBudget(init.inbound)
  const entryRates = createEntryRates(init.wantlistEntries)
  const slots = components.slots ?? bufferPool(BLOCK_SLOT_BYTES, FREE_SLOTS)
  const { readInto } = components
  let topologyId: string | undefined
  // Wantlists the peers' entry budgets cut short (or dropped whole).
  let cut = 0

  function outbox (peer: string, peerId?: PeerId): Outbox | undefined {
    let box = outboxes.get(peer)
    if (box == null) {
      // The address group of the connection the stream was last opened on.
      let group = ''
      box = createOutbox({}, {
        log,
        parked,
        group: () => group,
        // A message it left untaken longest was dropped: so are its wants (it may want them again), and its
        // connections when they still hold part of the message (a peer that grants a large window and then does
        // not read its socket): only closing them lets it go.
        onEvicted: (below) => {
          log.debug({ peer, below }, 'message dropped: the peer left it untaken longest while senders held their cap')
          ledgers.get(peer)?.close()
          ledgers.delete(peer)
          if (below) {
            for (const c of libp2p.getConnections(peerId)) c.abort(new Error('a bitswap message left untaken'))
          }
        },
        openStream: async (signal) => {
          const conn = libp2p.getConnections(peerId).find(c => c.remotePeer.toString() === peer && c.status === 'open')
          if (conn == null) throw new Error('not connected')
          group = multiaddrGroup(conn.remoteAddr)
          // The header goes with the first message: no round trip before it (src/node/lazy-select.ts).
          const stream = await conn.newStream(BITSWAP_PROTOCOL, { signal, negotiateFully: false })
          stream.addEventListener('close', (evt) => {
            if (evt.error instanceof UnsupportedProtocolError && outboxes.get(peer) === box) peerGone(peer)
          })
          return stream
        }
      })
      outboxes.set(peer, box)
    }
    return box
  }

  const wants = createWants({ debounceMs: init.wantlistDebounceMs }, { outbox: (peer) => outboxes.get(peer) })
  const bytes = createByteBudget(init.inboundBytes ?? {}, { wanting: () => wants.size() > 0 })

  function decodeCid (bytes: Uint8Array): CID | undefined {
    try { return CID.decode(bytes) } catch { return undefined }
  }

  /** Acts on one received message; true when it held a block Pinery wanted. */
  function onMessage (peer: string, peerId: PeerId, group: string, pieces: Uint8Array[], length: number): boolean {
    const message = decodeReceived(pieces, length, DECODE_LIMITS)
    let wanted = false
    for (const block of message.blocks) {
      const data = block.data.length === 1 ? block.data[0] as Uint8Array : block.data
      const cid = block.prefix == null ? v0Cid(data) : verifiedCid(block.prefix, data)
      if (cid != null && wants.receive(peer, cid, data)) wanted = true
    }
    if (message.wantlist != null && message.wantlist.length > 0) {
      let ledger = ledgers.get(peer)
      if (ledger == null) {
        const box = outbox(peer, peerId) as Outbox
        const batchBytes = init.batchBytes ?? 1024 * 1024
        const entries = entryRates.of(group)
        ledger = createPeerLedger(
          { maxWants: MAX_WANTS_PER_PEER, batchBytes, share: held, maxEntries: MAX_WANTLIST_ENTRIES, entries },
          { blockstore, outbox: box, reads, ...(readInto != null ? { readInto, slots } : {}) })
        ledgers.set(peer, ledger)
      }
      if (!ledger.update(message.wantlist, decodeCid)) {
        if (cut++ % 1000 === 0) log.debug({ peer, cut }, 'wantlist entries over the peer\'s budget dropped')
      }
    }
    return wanted
  }

  // Read through events, not the stream's async iterator: the iterator waits for a 'remoteCloseWrite'
  // that has already passed when kubo closes its side before the handler runs, and would hold the
  // stream (and what it read) for good (test/kubo/origin.test.ts, "keeps none of the received blocks").
  async function onStream (stream: Stream, connection: Connection): Promise<void> {
    const peerId = connection.remotePeer
    const peer = peerId.toString()
    const group = multiaddrGroup(connection.remoteAddr)
    const account = bytes.open(connection, group, stream, () => {
      log.debug({ peer }, 'connection closed: streams opened over its inbound byte budget')
      connection.abort(new Error('bitswap streams opened over the inbound byte budget'))
    })
    const read = createPieceReader(MAX_MESSAGE_BYTES, (pieces, length) => {
      if (onMessage(peer, peerId, group, pieces, length)) account.useful()
    })
    await new Promise<void>((resolve) => {
      const fail = (err: Error): void => {
        log.debug({ peer, err: err.message }, 'bad bitswap message')
        stream.abort(err)
        finish()
      }
      const share = budget.open(connection.id, fail)
      const finish = (): void => {
        share.close()
        account.close()
        stream.removeEventListener('message', onData)
        stream.removeEventListener('end', finish)
        stream.removeEventListener('close', finish)
        resolve()
      }
      const onData = (evt: StreamMessageEvent): void => {
        try {
          if (evt.data instanceof Uint8Array) read(evt.data)
          else for (const part of evt.data) read(part)
          share.hold(read.held())
          account.arrived(evt.data.byteLength)
        } catch (err) {
          fail(err as Error)
        }
      }
      stream.addEventListener('message', onData)
      stream.addEventListener('end', finish)
      stream.addEventListener('close', finish)
      if (stream.readableEnded) finish()
    })
    if (stream.status === 'open') await stream.close().catch((err: Error) => { stream.abort(err) })
  }

  /**
   * A peer that may speak bitswap: its stream is opened at once and it gets the wantlist. Done when
   * the connection opens, not only when identify has said the peer speaks bitswap (the registrar's
   * topology, one more round trip), and the stream is ready before the first block has to go out:
   * each saves a round trip of a fetch (scripts/bench/RESULTS.md, rtt-probe). A peer that turns out
   * not to speak bitswap is dropped again.
   */
  async function peerUp (peerId: PeerId): Promise<void> {
    const peer = peerId.toString()
    if (wants.hasPeer(peer)) return
    const box = outbox(peer, peerId) as Outbox
    const warmed = box.warm()
    wants.addPeer(peer)
    if (!await warmed && outboxes.get(peer) === box) peerGone(peer)
  }

  function onConnection (evt: CustomEvent<Connection>): void {
    if (evt.detail.limits == null) void peerUp(evt.detail.remotePeer)
  }

  function peerGone (peer: string): void {
    wants.removePeer(peer)
    ledgers.get(peer)?.close()
    ledgers.delete(peer)
    outboxes.get(peer)?.close()
    outboxes.delete(peer)
  }

  return {
    want: wants.want,
    async start () {
      await libp2p.handle(BITSWAP_PROTOCOL, onStream, {
        maxInboundStreams: MAX_INBOUND_STREAMS,
        maxOutboundStreams: 16,
        runOnLimitedConnection: false,
        // The node's one bitswap: replaces a handler left by another (tests swap implementations on one node).
        force: true
      })
      libp2p.addEventListener('connection:open', onConnection)
      topologyId = await libp2p.register(BITSWAP_PROTOCOL, {
        onConnect: (peerId) => { void peerUp(peerId) },
        onDisconnect: (peerId) => { peerGone(peerId.toString()) }
      })
    },
    async stop () {
      libp2p.removeEventListener('connection:open', onConnection)
      wants.stop()
      if (topologyId != null) libp2p.unregister(topologyId)
      for (const peer of [...outboxes.keys()]) peerGone(peer)
      await libp2p.unhandle(BITSWAP_PROTOCOL)
    },
    stats () {
      let serving = 0
      for (const ledger of ledgers.values()) serving += ledger.size()
      const unfinished = budget.held()
      return {
        wanted: wants.size(),
        serving,
        unfinished,
        cut,
        paused: bytes.paused(),
        closed: bytes.closed(),
        parked: parked.bytes(),
        evicted: parked.evicted(),
        held: held.held
      }
    }
  }
}
