/**
 * A bound on the bytes a peer Pinery is not fetching from may make it read on bitswap streams. Decoding a
 * flood of wantlists costs little since round ten, but every byte still passes Noise decryption and yamux
 * framing first: one peer flooding 4 MiB wantlists sent ~250–500 MB/s over loopback and kept ~0.7–0.9 of a
 * core busy on bytes Pinery dropped (hostile review, round ten). Here each connection, and each remote
 * address (an IPv6 one's /64: a fresh peer ID, or a fresh connection, is free), has a token bucket of bytes;
 * past it the stream is paused (no yamux window update: a sender that keeps to yamux stops, one that does not
 * breaks yamux's window and loses the connection), and resumed once the debt is paid.
 *
 * A connection that has delivered a block Pinery wanted in the last USEFUL_MS is not counted at all: an
 * origin sends at full speed, and a second origin's duplicate blocks are not held against it either. A
 * connection opened while Pinery wants blocks may send its first message past its address's budget (its own
 * still counts), so that an origin behind the address of a flooder (a NAT, or loopback) can deliver the block
 * that shows it is one. A connection that opens stream after stream while over its budget is closed.
 */
import { createKeyedBuckets, createTokenBucket, type TokenBucket, type TokenBucketInit } from '../../token-bucket.js'
import { grantFullWindow, limitWindow } from './stream-window.js'
import { MAX_MESSAGE_BYTES } from './wire.js'
import type { Stream } from '@libp2p/interface'

/**
 * Bytes per second, and at once, one connection may send that are not blocks Pinery wants. An honest peer
 * Pinery serves sends wantlists: ~2 entries of ~40 bytes per block it is sent plus a full wantlist now and
 * then, ~3 MB/s at the ~30,000 small blocks a second Pinery can serve. Measured (scripts/bench/RESULTS.md,
 * round eleven, hostile13): one peer flooding wantlists took 112 MiB in 12 s instead of 4.7–6.2 GiB, and
 * Pinery spent 0.07–0.18 of a core on it instead of 0.87–1.02 (0.37 for wants of absent blocks, which each
 * cost a blockstore lookup: the entry budget's part).
 */
export const PEER_BYTES = { perSecond: 8 * 1024 * 1024, burst: 16 * 1024 * 1024 }
/** The same for all connections from one remote address together. */
export const ADDRESS_BYTES = { perSecond: 16 * 1024 * 1024, burst: 32 * 1024 * 1024 }
/** How long a connection that delivered a wanted block stays uncounted. */
export const USEFUL_MS = 10_000
/**
 * Streams a connection may open while over its budget before it is closed: a new stream takes what arrives
 * before its handler runs (yamux acknowledges it, up to libp2p's 4 MiB read buffer), so a peer opening stream
 * after stream would be held to nothing. Honest peers that Pinery serves send their wants on one stream
 * (kubo, Pinery) or one at a time (Helia); kubo's stream per block comes only from an origin, which is useful.
 */
export const MAX_OPENS_OVER_BUDGET = 4
/**
 * Streams of one connection kept paused at once; past it, a stream to be paused is reset instead. A paused
 * stream still receives what the window it was granted lets in (up to libp2p's 4 MiB read buffer), so paused
 * streams without a bound could hold 4 MiB each of a connection's 1,000 (review13: 297 MiB held in 100).
 */
export const MAX_PAUSED_PER_CONNECTION = 4
/** Remote addresses whose buckets are kept (the least recently used goes first, starting full again). */
const MAX_ADDRESSES = 10_000

/** Settings (tests make them small). */
export interface ByteBudgetInit {
  perConnection?: TokenBucketInit
  perAddress?: TokenBucketInit
  usefulMs?: number
}

/** What the budget asks of the node. */
export interface ByteBudgetComponents {
  /** Whether Pinery wants blocks now: a stream may then carry them, and gets the full window at once. */
  wanting(): boolean
}

/** One inbound stream's account. */
export interface StreamBytes {
  /** `n` bytes were read from the stream (after they were acted on); pauses it when over the budget. */
  arrived(n: number): void
  /** A message of the stream held a block Pinery wanted: its connection is one Pinery fetches from. */
  useful(): void
  /** The stream ended. */
  close(): void
}

/** The budget, shared by every inbound bitswap stream of the node. */
export interface ByteBudget {
  /** A new stream of `connection`, whose remote address is (in) `group`. */
  open(connection: object, group: string, stream: Stream, close: () => void): StreamBytes
  /** Streams paused now (tests, stats). */
  paused(): number
  /** Connections closed for opening streams over their budget (tests, stats). */
  closed(): number
}

interface ConnectionBytes {
  bucket: TokenBucket
  group: string
  /** Bytes of the first message not held to the address's budget (see the module's comment). */
  first: number
  usefulUntil: number
  /** Streams opened while over the budget. */
  opensOver: number
  /** Its streams paused now. */
  pausedHere: number
  streams: Set<{ stream: Stream, paused: boolean, resume: () => void, stop: () => void }>
}

/** Creates the node's byte budget. */
export function createByteBudget (init: ByteBudgetInit, components: ByteBudgetComponents): ByteBudget {
  const perConnection = init.perConnection ?? PEER_BYTES
  const usefulMs = init.usefulMs ?? USEFUL_MS
  const groups = createKeyedBuckets({ ...(init.perAddress ?? ADDRESS_BYTES), maxKeys: MAX_ADDRESSES })
  // By the Connection object: forgotten with it.
  const connections = new WeakMap<object, ConnectionBytes>()
  let paused = 0
  let closed = 0

  const isUseful = (c: ConnectionBytes): boolean => performance.now() < c.usefulUntil
  /** Milliseconds until the connection may be read again (0: now). */
  const wait = (c: ConnectionBytes): number => isUseful(c)
    ? 0
    : Math.max(c.bucket.msUntil(0), c.first > 0 ? 0 : groups.get(c.group).msUntil(0))

  return {
    open (connection, group, stream, close) {
      let c = connections.get(connection)
      if (c == null) {
        c = {
          bucket: createTokenBucket(perConnection),
          group,
          // Only while Pinery wants blocks: else nothing it could send would be wanted.
          first: components.wanting() ? MAX_MESSAGE_BYTES + 8 : 0,
          usefulUntil: 0,
          opensOver: 0,
          pausedHere: 0,
          streams: new Set()
        }
        connections.set(connection, c)
      }
      const conn = c
      let timer: NodeJS.Timeout | undefined
      const state = {
        stream,
        paused: false,
        resume: (): void => {
          clearTimeout(timer)
          timer = undefined
          if (!state.paused) return
          const ms = wait(conn)
          if (ms > 0) {
            timer = setTimeout(state.resume, Math.min(Math.max(ms, 10), 60_000))
            timer.unref()
            return
          }
          state.paused = false
          paused--
          conn.pausedHere--
          if (isUseful(conn)) grantFullWindow(stream)
          // Data that came while paused is dispatched now (and counted in turn).
          if (stream.readStatus === 'paused') stream.resume()
        },
        stop
      }
      /** Paused, or reset when the connection has MAX_PAUSED_PER_CONNECTION paused already. */
      function stop (): void {
        if (state.paused || stream.readStatus !== 'readable') return
        if (conn.pausedHere >= MAX_PAUSED_PER_CONNECTION) {
          stream.abort(new Error('over its connection\'s byte budget'))
          return
        }
        state.paused = true
        paused++
        conn.pausedHere++
        limitWindow(stream)
        stream.pause()
        state.resume()
      }
      conn.streams.add(state)
      // A stream may carry blocks when Pinery wants some: the full window at once (stream-window.ts).
      if (wait(conn) > 0) {
        stop()
        if (++conn.opensOver > MAX_OPENS_OVER_BUDGET) { closed++; close() }
      } else if (components.wanting() || isUseful(conn)) grantFullWindow(stream)
      else limitWindow(stream)
      return {
        arrived (n) {
          if (isUseful(conn)) return
          conn.bucket.charge(n)
          groups.get(conn.group).charge(n)
          if (conn.first > 0) conn.first -= n
          // Every stream of the connection at once: each would otherwise read one more event (up to its window).
          if (wait(conn) > 0) for (const s of [...conn.streams]) s.stop()
        },
        useful () {
          conn.usefulUntil = performance.now() + usefulMs
          conn.opensOver = 0
          for (const s of conn.streams) if (s.paused) s.resume()
          grantFullWindow(stream)
        },
        close () {
          clearTimeout(timer)
          if (state.paused) { paused--; conn.pausedHere-- }
          state.paused = false
          conn.streams.delete(state)
        }
      }
    },
    paused: () => paused,
    closed: () => closed
  }
}
