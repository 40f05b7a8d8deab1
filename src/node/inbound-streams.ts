/**
 * Bounds on what a peer can make Pinery hold or do with streams it opens, before any protocol's handler
 * reads them. js-yamux grants a stream's window back after every data frame whether or not anyone read
 * it, so a new stream of any protocol (also one Pinery does not speak) took up to libp2p's 4 MiB read
 * buffer while multistream-select negotiated, and a connection may open 1,000 of them (hostile review,
 * round twelve: 4 connections made Pinery grow to 1,026 MiB RSS, `scripts/hostile/stream-hold.ts`).
 *
 * Here, wrapping the muxer (yamux) of every connection:
 * - an inbound stream is **unclaimed** until its protocol is negotiated and a handler reads it (listens
 *   for its messages). An unclaimed stream's window is not granted back: a sender that keeps to yamux
 *   stops after the 256 KiB initial window, one that does not loses the connection (yamux's own check).
 *   Once claimed, the window is granted back at once, so a handler sees no delay.
 * - the bytes unclaimed streams hold are counted per connection and for the node: a frame past the
 *   connection's cap resets its stream; past the node's cap the streams that have held bytes longest are reset
 *   until the node is under it again (what a stream held goes with it), so the node's cap is a hard total.
 * - yamux pings are answered up to PINGS (honest keep-alive pings once in 30 s); past it the connection is closed.
 * - multistream-select answers every proposal ("na", `ls`) on a stream it has not yet settled: past
 *   MAX_NEGOTIATION_WRITES answers the stream is reset (honest peers need two: the header and the echo).
 * - data frames for stream ids yamux does not know (closed ones) are decrypted and dropped; past
 *   CLOSED_STREAM_BYTES of them (refilled at its rate) the connection is closed.
 */
import { createTokenBucket, type TokenBucketInit } from '../token-bucket.js'
import type { Stream, StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'

/** Bytes the unclaimed streams of one connection may hold. */
export const CONNECTION_UNCLAIMED_BYTES = 16 * 1024 * 1024
/**
 * Bytes the unclaimed streams of all connections together may hold, a hard total: past it the streams that have
 * held bytes longest are reset first, not the stream whose frame went past it. An origin's streams are claimed as
 * soon as they are negotiated (a kubo origin sending a 32 MiB file, a stream per block, held at most 1 MiB
 * unclaimed, each for milliseconds), a flooder's are held until multistream-select's 10 s timeout: flooders
 * keeping the node at its cap have their own old streams reset, not an origin's new one. (Until round thirteen
 * only connections past a 2 MiB fair share were reset, so 1,000 connections under it could hold ~2 GiB.)
 */
export const NODE_UNCLAIMED_BYTES = 128 * 1024 * 1024
/** Writes multistream-select makes on an inbound stream before its protocol is settled. */
export const MAX_NEGOTIATION_WRITES = 8
/**
 * Streams of one connection reset by these bounds before the connection is closed: a reset stream costs the
 * peer nothing, and opening one, negotiating 8 rounds and resetting it cost Pinery ~0.9 ms (one peer opened
 * ~1,200 a second and kept a core busy). Honest peers never have a stream reset here.
 */
export const MAX_RESETS_PER_CONNECTION = 16
/**
 * Data for closed stream ids a connection may send before it is closed: what was in flight when a
 * stream was reset (up to its window, 32 MiB for a bitswap stream) is honest, a steady flow is not.
 */
export const CLOSED_STREAM_BYTES = { perSecond: 4 * 1024 * 1024, burst: 64 * 1024 * 1024 }
/**
 * Yamux pings a connection may send (each answered at once by js-yamux, a frame through Noise). Honest ones are
 * keep-alive: js-yamux and go-yamux (kubo) ping once when the connection opens and then every 30 s, one at a
 * time; libp2p's ping service is a protocol on a stream, not these. One peer answered as fast as it pinged
 * (4 × 400,000 pings) cost Pinery 0.3 of a core and a 2.2 s `/health` stall (round twelve), and the answers it
 * never read filled the socket so that every other write of the connection waited. Past the burst, the
 * connection is closed.
 */
export const PINGS = { perSecond: 1, burst: 16 }

/** Settings (tests make them small). */
export interface InboundStreamsInit {
  connectionUnclaimed?: number
  nodeUnclaimed?: number
  closedStreamBytes?: TokenBucketInit
  pings?: TokenBucketInit
}

/** What the guard did (tests, stats). */
export interface InboundStreamStats {
  /** Bytes unclaimed streams hold now, all connections together. */
  unclaimed: number
  /** The most they held at once. */
  peakUnclaimed: number
  /** Streams reset for holding past a cap, or for negotiating too long. */
  reset: number
  /** Connections closed: for sending to closed streams or pings past PINGS, or for MAX_RESETS_PER_CONNECTION resets. */
  closed: number
  /** Yamux pings answered. */
  pings: number
}

/** The parts of js-yamux's muxer and stream this uses (private in its typings, stable since v6). */
interface YamuxFrame { header: { streamID: number, type: number, flag: number, length: number } }
interface YamuxStreamParts {
  streamId: number
  state: number
  recvWindowCapacity: number
  handleData(frame: YamuxFrame): void
  sendWindowUpdate(): void
  sendFrame(header: YamuxFrame['header']): boolean
}
interface YamuxMuxerParts {
  maConn: { abort(err: Error): void }
  streams: Array<Stream & YamuxStreamParts>
  onRemoteStream(stream: Stream): void
  handleStreamMessage(frame: YamuxFrame): void
  handlePing(header: YamuxFrame['header']): void
}

/** One connection's account. */
interface ConnectionAccount {
  unclaimed: number
  resets: number
  /** Resets `stream`; closes the connection at its MAX_RESETS_PER_CONNECTIONth. */
  reset(stream: Stream, err: Error): void
}

const DATA = 0
const WINDOW_UPDATE = 1
const SYN = 1
const ACK = 2
const SYN_RECEIVED = 2
const ESTABLISHED = 3

/**
 * Wraps a muxer factory so that every connection's inbound streams are bounded as the module says; `stats`
 * reads what it did. Muxers that are not js-yamux's are left alone.
 */
export function guardInboundStreams<C> (factory: (components: C) => StreamMuxerFactory, init: InboundStreamsInit = {}):
{ factory: (components: C) => StreamMuxerFactory, stats: () => InboundStreamStats } {
  const connectionCap = init.connectionUnclaimed ?? CONNECTION_UNCLAIMED_BYTES
  const nodeCap = init.nodeUnclaimed ?? NODE_UNCLAIMED_BYTES
  const stats: InboundStreamStats = { unclaimed: 0, peakUnclaimed: 0, reset: 0, closed: 0, pings: 0 }
  /** Unclaimed streams holding bytes, those holding longest first (a Map keeps insertion order), each's reset. */
  const holding = new Map<Stream, () => void>()

  const guard = (muxer: StreamMuxer): void => {
    const m = muxer as unknown as Partial<YamuxMuxerParts>
    if (typeof m.onRemoteStream !== 'function' || typeof m.handleStreamMessage !== 'function') return
    const conn: ConnectionAccount = {
      unclaimed: 0,
      resets: 0,
      reset: (stream, err) => {
        stats.reset++
        stream.abort(err)
        if (++conn.resets === MAX_RESETS_PER_CONNECTION) {
          stats.closed++
          const closing = new Error(`${MAX_RESETS_PER_CONNECTION} streams reset: ${err.message}`)
          muxer.abort(closing)
          m.maConn?.abort(closing)
        }
      }
    }
    const dropped = createTokenBucket(init.closedStreamBytes ?? CLOSED_STREAM_BYTES)
    const onRemoteStream = m.onRemoteStream.bind(muxer)
    m.onRemoteStream = (stream) => {
      onRemoteStream(stream)
      guardStream(stream as Stream & YamuxStreamParts, conn)
    }
    const handleStreamMessage = m.handleStreamMessage.bind(muxer)
    m.handleStreamMessage = (frame) => {
      const { streamID, type, flag, length } = frame.header
      if (type === DATA && (flag & SYN) === 0 && length > 0 && m.streams?.some(s => s.streamId === streamID) !== true) {
        dropped.charge(length)
        if (dropped.msUntil(0) > 0) {
          stats.closed++
          // Thrown: the muxer's reader closes the muxer and the connection under it for an error in a frame.
          throw new Error('data for closed streams past the connection\'s allowance')
        }
      }
      handleStreamMessage(frame)
    }
    const pings = createTokenBucket(init.pings ?? PINGS)
    const handlePing = m.handlePing?.bind(muxer)
    if (handlePing != null) {
      m.handlePing = (header) => {
        if (header.flag === SYN) {
          if (pings.takeUpTo(1) === 0) {
            stats.closed++
            throw new Error('yamux pings past the connection\'s allowance') // closes it, as above
          }
          stats.pings++
        }
        handlePing(header)
      }
    }
  }

  const guardStream = (stream: Stream & YamuxStreamParts, conn: ConnectionAccount): void => {
    if (typeof stream.handleData !== 'function' || typeof stream.sendWindowUpdate !== 'function') return
    let held = 0
    let writes = 0
    const release = (): void => {
      conn.unclaimed -= held
      stats.unclaimed -= held
      held = 0
      holding.delete(stream)
    }
    let evicted = false
    const evict = (): void => {
      evicted = true
      release()
      conn.reset(stream, new Error('unclaimed streams hold too much'))
    }
    const claimed = (): boolean => stream.protocol !== '' && stream.listenerCount('message') > 0
    const refill = stream.sendWindowUpdate.bind(stream)
    stream.sendWindowUpdate = () => {
      if (claimed()) { refill(); return }
      // Unclaimed: only the acknowledgement of the new stream goes out (js-yamux sends it with the first update).
      if (stream.state === SYN_RECEIVED) {
        stream.state = ESTABLISHED
        stream.sendFrame({ type: WINDOW_UPDATE, flag: ACK, streamID: stream.streamId, length: 0 })
      }
    }
    /** Called when the stream may have been claimed: what it held is the handler's now, and its window is granted. */
    const check = (): void => {
      if (held === 0 || !claimed()) return
      release()
      refill()
    }
    const handleData = stream.handleData.bind(stream)
    stream.handleData = (frame) => {
      // Claimed since the last frame (its handler listens after the protocol was set): what it held is released.
      if (held > 0 && claimed()) release()
      if (!claimed() && frame.header.length > 0) {
        if (held === 0) holding.set(stream, evict)
        held += frame.header.length
        conn.unclaimed += frame.header.length
        stats.unclaimed += frame.header.length
        if (conn.unclaimed > connectionCap) evict()
        // Past the node's cap, those holding longest go first (deleting while iterating a Map is safe).
        for (const [, older] of holding) {
          if (stats.unclaimed <= nodeCap) break
          older()
        }
        stats.peakUnclaimed = Math.max(stats.peakUnclaimed, stats.unclaimed)
        if (evicted) return
      }
      handleData(frame)
    }
    const send = stream.send.bind(stream)
    stream.send = (data) => {
      if (stream.protocol === '' && ++writes > MAX_NEGOTIATION_WRITES) {
        const err = new Error('protocol negotiation took too many rounds')
        conn.reset(stream, err)
        // Thrown, not returned: multistream-select would otherwise wait for a drain that never comes, and keep
        // what it read until its 10 s timeout (measured: ~290 KB per reset stream, 700 MB in 8 s).
        throw err
      }
      return send(data)
    }
    const addEventListener = stream.addEventListener.bind(stream) as (...args: unknown[]) => void
    stream.addEventListener = ((...args: unknown[]) => {
      addEventListener(...args)
      if (args[0] === 'message') queueMicrotask(check)
    }) as Stream['addEventListener']
    stream.addEventListener('close', release)
  }

  return {
    factory: (components) => {
      // The factory itself is kept (not copied): libp2p reads its service capabilities.
      const inner = factory(components)
      const createMuxer = inner.createStreamMuxer.bind(inner)
      inner.createStreamMuxer = (maConn) => {
        const muxer = createMuxer(maConn)
        guard(muxer)
        return muxer
      }
      return inner
    },
    stats: () => ({ ...stats })
  }
}
