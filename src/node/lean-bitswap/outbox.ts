/**
 * One long-lived outbound bitswap stream per peer, reused for every message to it (the spec's
 * model, and kubo's). @helia/bitswap opens a new stream for each message, which costs a
 * multistream-select round trip per message: with a 100 ms RTT that was ~4 of the ~12 round trips
 * of a 64 MiB pin (scripts/bench/RESULTS.md, round two). Messages go out in order; a send waits for
 * the stream to drain, so a slow peer slows its sender instead of growing a buffer.
 */
import { frame } from './wire.js'
import type { Message } from './message.js'
import type { ParkedSends } from './parked.js'
import type { Logger } from '../../logger.js'
import type { Stream } from '@libp2p/interface'

/** A stream idle this long is replaced before the next send: Helia drops inbound streams idle for 10 s. */
export const OUTBOX_IDLE_MS = 5_000

/** A message the peer has not taken within this long (its window stays shut) ends the stream. */
export const SEND_TIMEOUT_MS = 30_000

/**
 * Why a stream whose message `parked` dropped is reset. Made once, here: an Error made in the eviction (deep in
 * another peer's send) keeps that send's frames in its stack until the stack is read, and with them that peer's
 * message; kept by the dropped stream's drain watch, each eviction held another peer's blocks. Found with a heap
 * snapshot: 60 silent peers wanting 8 blocks of 2 MiB, cap 8 MiB, held 157 MiB after a GC; with this and the
 * watch dropped with its stream, 49 (42 of it the read-ahead of the 3 peers still waiting).
 */
const EVICTED = new Error('the peer left a message untaken longest while the node held its cap')

/**
 * What the peer's yamux window still takes on stream `s` (undefined for another muxer). Read from yamux's private
 * field: no public one tells a shut window from a full socket.
 */
const windowLeft = (s: Stream): number | undefined =>
  (s as unknown as { sendWindowCapacity?: number }).sendWindowCapacity

/** Sends messages to one peer. */
export interface Outbox {
  /**
   * Sends one message; resolves once it is handed to the stream (after a drain if needed). Never throws.
   * With `released`, the message's block bytes are lent: it resolves only once the connection holds
   * no reference to them any more (see `flushed`), and calls `released` then, so that the caller may
   * reuse their buffers; never called when that cannot be known (a failed send: the buffers are dropped).
   */
  send(message: Partial<Message>, options?: { released?: () => void }): Promise<boolean>
  /** Opens the stream now, so that the first message does not wait for its negotiation; false if it cannot. */
  warm(): Promise<boolean>
  /** Closes the stream; later sends are dropped. */
  close(): void
}

/** Settings of an outbox. */
export interface OutboxInit {
  idleMs?: number
}

/** How an outbox gets a fresh stream to its peer, and the node's count of messages waiting for their peers. */
export interface OutboxComponents {
  openStream(signal: AbortSignal): Promise<Stream>
  log: Logger
  /** Counts a message while it waits for the peer to take it; without it nothing is counted. */
  parked?: ParkedSends
  /** The address group of the peer's connection (parked.ts counts by it); '' when absent. */
  group?: () => string
  /**
   * Called when a waiting message was dropped by `parked` (its stream reset, the send resolved false); `below`
   * when part of it had gone past the stream to the connection, which holds it until its socket drains.
   */
  onEvicted?: (below: boolean) => void
}

/** Creates the outbox of one peer; its stream is opened at the first send. */
export function createOutbox (init: OutboxInit, components: OutboxComponents): Outbox {
  const idleMs = init.idleMs ?? OUTBOX_IDLE_MS
  const closer = new AbortController()
  let stream: Stream | undefined
  let drains: DrainWatch | undefined
  let lastSend = 0
  let tail: Promise<unknown> = Promise.resolve()

  const usable = (s: Stream): boolean =>
    s.status === 'open' && s.writeStatus === 'writable' && performance.now() - lastSend < idleMs

  async function open (): Promise<Stream> {
    let s = stream
    if (s == null || !usable(s)) {
      if (s?.status === 'open') { const old = s; void old.close().catch(() => { old.abort(new Error('closed')) }) }
      stream = undefined
      s = await components.openStream(AbortSignal.any([closer.signal, AbortSignal.timeout(10_000)]))
      stream = s
      drains = watchDrains(s)
      lastSend = performance.now()
    }
    return s
  }

  async function write (message: Partial<Message>, released?: () => void): Promise<boolean> {
    // A failed write is tried once more on a fresh stream: the remote may have dropped an idle one.
    for (let attempt = 0; attempt < 2 && !closer.signal.aborted; attempt++) {
      let timer: NodeJS.Timeout | undefined
      let unpark: (() => void) | undefined
      let evicted = false
      let below = false
      try {
        const s = await open()
        const watch = drains as DrainWatch
        lastSend = performance.now()
        let more = true
        let bytes = 0
        for (const part of frame(message)) { more = s.send(part); bytes += part.byteLength }
        if (!more || released != null) {
          // Waits for the peer: counted node-wide, and dropped (the stream reset) if it waits longest past the cap.
          unpark = components.parked?.park(bytes, () => {
            // Waiting for the socket, not the window: the connection under the stream holds what it was given.
            // writableNeedsDrain alone is true for a shut window too (yamux's sendData): every peer dropped lost
            // its connections, an honest slow one (and what Pinery fetched from it) as well.
            below = s.writableNeedsDrain && windowLeft(s) !== 0
            evicted = true
            s.abort(EVICTED)
          }, components.group?.())
          const drain = async (): Promise<void> => {
            timer ??= setTimeout(() => { watch.fail(new Error(`the peer took nothing for ${SEND_TIMEOUT_MS} ms`)) },
              SEND_TIMEOUT_MS)
            await watch.next()
          }
          if (!more && s.writableNeedsDrain) await drain()
          if (released != null && await flushed(s, drain)) released()
        }
        lastSend = performance.now()
        return true
      } catch (err) {
        components.log.debug({ err: (err as Error).message, attempt }, 'bitswap send failed')
        stream?.abort(err as Error)
        // The watch of the dropped stream goes too: the error it keeps may hold this send's frames (see EVICTED).
        stream = undefined
        drains = undefined
      } finally {
        clearTimeout(timer)
        unpark?.()
      }
      // Dropped, not failed: not sent again on a fresh stream.
      if (evicted) { components.onEvicted?.(below); break }
    }
    return false
  }

  return {
    async send (message, options) {
      const sent = tail.then(async () => await write(message, options?.released))
      tail = sent
      return await sent
    },
    async warm () {
      const opened = tail.then(async () => { await open(); return true }, () => true).catch((err: Error) => {
        components.log.debug({ err: err.message }, 'bitswap stream did not open')
        return false
      })
      tail = opened
      return await opened
    },
    close () {
      closer.abort()
      drains?.fail(new Error('outbox closed'))
      const s = stream
      stream = undefined
      if (s != null && s.status === 'open') void s.close().catch(() => { s.abort(new Error('closed')) })
    }
  }
}

/**
 * Waits until no layer under `stream` holds a reference to bytes it was given; false when that cannot
 * be known. So that block buffers can be reused: a new buffer per block read started a third of the
 * sender's major collections (~15 per 256 MiB, ~8–10 left from Noise's own buffers), and reusing them
 * took the sender from ~2× to ~1.3× a raw stream's CPU per byte (scripts/bench/RESULTS.md round four).
 *
 * Holds for the node's one stack, yamux over Noise over TCP (src/node/helia.ts), as the pinned
 * versions work: the yamux stream keeps unsent bytes in its write buffer (`writeBufferLength`);
 * what it hands to the muxer goes to Noise, which encrypts it at once (into new buffers) unless its
 * own socket needs a drain. Then Noise keeps the plaintext until that drain, and the muxer call that
 * gave it returned false, which sets `writableNeedsDrain` on every stream of the connection. That
 * flag is cleared only by a 'drain' event: after the socket's, Noise's own handler encrypts what it
 * kept in a microtask queued before any the stream's listeners queue; after a window update, the
 * stream sends again in a microtask, which (Noise still needing a drain) sets the flag again. So,
 * seen from a later microtask, an empty write buffer without `writableNeedsDrain` means no plaintext
 * of this stream is left anywhere. test/node/lean-bitswap-lending.test.ts sends blocks through
 * reused buffers to a peer that reads in bursts and checks every one.
 */
async function flushed (stream: Stream, drain: () => Promise<void>): Promise<boolean> {
  while (stream.writableNeedsDrain) await drain()
  return stream.status === 'open' && stream.writeBufferLength === 0
}

interface Waiter { promise: Promise<void>, resolve: () => void, reject: (err: Error) => void }

/** The 'drain' events of one stream, awaited one at a time. */
interface DrainWatch {
  /** Resolves at the stream's next 'drain'; rejects once it closed or `fail` was called. */
  next(): Promise<void>
  /** Rejects the wait in progress and every later one. */
  fail(err: Error): void
}

/**
 * Listens to a stream's 'drain' and 'close' once for its life. Not `stream.onDrain()`: @libp2p/utils
 * 7.4 keeps the promise of the first drain, resolved, for the life of the stream, so after that it
 * waited for nothing and a slow peer's stream buffered whatever the ledger read
 * (test/node/lean-bitswap-lending.test.ts, "holds a bounded amount"). Nor listeners and a timer per
 * wait: a message may wait for several drains (the socket drains once per Noise frame it takes).
 */
function watchDrains (stream: Stream): DrainWatch {
  let waiter: Waiter | undefined
  let failed: Error | undefined
  const fail = (err: Error): void => {
    failed ??= err
    const w = waiter
    waiter = undefined
    w?.reject(failed)
  }
  stream.addEventListener('drain', () => {
    const w = waiter
    waiter = undefined
    w?.resolve()
  })
  stream.addEventListener('close', (evt) => {
    fail((evt as Event & { error?: Error }).error ?? new Error('stream closed'))
  })
  return {
    async next () {
      if (failed != null) throw failed
      if (waiter == null) {
        const w: Partial<Waiter> = {}
        w.promise = new Promise<void>((resolve, reject) => { w.resolve = resolve; w.reject = reject })
        waiter = w as Waiter
      }
      await waiter.promise
    },
    fail
  }
}
