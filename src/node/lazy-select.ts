/**
 * Optimistic ("lazy") multistream-select for outbound streams that ask for it with
 * `newStream(protocol, { negotiateFully: false })`: the protocol header goes out with the stream's
 * first message, and the peer's echo is checked when it arrives instead of being waited for. This
 * is what `negotiateFully: false` is documented to do in @libp2p/interface 3.3, but libp2p 3.3.11's
 * `Connection.newStream` never reads the option and @libp2p/multistream-select 7.0.28's `select()`
 * always awaits the echo. It does hand the single protocol asked for to the muxer's `createStream`
 * and skips its own negotiation when the stream comes back with a protocol set, so this wraps the
 * muxer: a stream opened that way gets the header written and its protocol set at once.
 *
 * Why: each outbound bitswap stream (the wants' and the blocks' at the origin) cost one round trip
 * before its first message; both sides opening theirs this way take one round trip off the time to
 * the root of a fresh connection (scripts/bench/RESULTS.md, round seven). go-libp2p (kubo) opens
 * streams this way once it knows the peer's protocols. The answering side is unchanged: any
 * multistream-select listener reads the header, echoes it and hands the rest to the protocol.
 *
 * A peer that answers anything but the echo ("na": it does not speak the protocol) gets the stream
 * aborted with UnsupportedProtocolError; nothing the peer sends is seen before the echo was checked.
 */
import { UnsupportedProtocolError } from '@libp2p/interface'
import { concat } from 'uint8arrays/concat'
import { equals } from 'uint8arrays/equals'
import type {
  CreateStreamOptions, MessageStream, MultiaddrConnection, Stream, StreamMuxer, StreamMuxerFactory, Transport, Upgrader,
  UpgraderOptions
} from '@libp2p/interface'

const PROTOCOL_ID = '/multistream/1.0.0'

/** The stream a muxer built on @libp2p/utils' AbstractStream returns: its transport hands bytes to `onData`. */
type DataStream = Stream & { onData?: (data: Uint8Array | { subarray: () => Uint8Array }) => void }

/** Wraps a muxer factory (yamux) so that its outbound streams may select their protocol optimistically. */
export function lazySelect<C> (factory: (components: C) => StreamMuxerFactory): (components: C) => StreamMuxerFactory {
  return (components) => {
    // The factory itself is kept (not copied): libp2p reads its service capabilities.
    const inner = factory(components)
    const createMuxer = inner.createStreamMuxer.bind(inner)
    inner.createStreamMuxer = (maConn) => {
      const muxer: StreamMuxer = createMuxer(maConn)
      const create = muxer.createStream.bind(muxer)
      muxer.createStream = async (options?: CreateStreamOptions & { negotiateFully?: boolean }) => {
        const stream: DataStream = await create(options)
        const protocol = options?.negotiateFully === false ? options.protocol : undefined
        if (protocol != null) selectOptimistically(stream, protocol)
        return stream
      }
      return muxer
    }
    return inner
  }
}

/** One multistream-select message: the varint length, the string, a newline (also for peers written in tests). */
export function encodeLine (text: string): Uint8Array {
  const body = new TextEncoder().encode(`${text}\n`)
  const length: number[] = []
  for (let n = body.byteLength; ; n >>>= 7) {
    if (n < 0x80) { length.push(n); break }
    length.push((n & 0x7f) | 0x80)
  }
  return concat([Uint8Array.from(length), body])
}

/**
 * Writes the header and `protocol`, sets the stream's protocol (libp2p then skips its own selection)
 * and holds back what the peer sends until its first bytes were checked against the expected echo.
 * A stream whose transport does not read through `onData` is left alone: libp2p negotiates it in full.
 */
export function selectOptimistically (stream: DataStream, protocol: string): void {
  const expected = concat([encodeLine(PROTOCOL_ID), encodeLine(protocol)])
  if (!checkEcho(stream, expected, protocol)) return
  stream.send(expected)
  stream.protocol = protocol
}

/**
 * Takes the peer's echo of `expected` off the front of what `stream` receives, checking it as it
 * arrives; aborts the stream if it differs. False (and nothing done) if the stream has no `onData`.
 */
function checkEcho (stream: DataStream | MessageStream, expected: Uint8Array, protocol: string): boolean {
  const target = stream as DataStream
  const deliver = target.onData?.bind(stream)
  if (deliver == null) return false
  let received = new Uint8Array(0)
  target.onData = (data) => {
    received = concat([received, data.subarray()])
    const n = Math.min(received.byteLength, expected.byteLength)
    if (!equals(received.subarray(0, n), expected.subarray(0, n))) {
      target.onData = deliver
      stream.abort(new UnsupportedProtocolError(`the peer did not select ${protocol}`))
      return
    }
    if (received.byteLength < expected.byteLength) return
    target.onData = deliver
    stream.log('optimistically selected %s: echo checked', protocol)
    if (received.byteLength > expected.byteLength) deliver(received.subarray(expected.byteLength))
  }
  return true
}

/**
 * Wraps a transport (TCP) so that an outbound connection selects its security protocol (Noise)
 * optimistically when there is one to choose: the upgrader's multistream-select writes the header
 * and the protocol, gets the expected echo at once from here, and Noise's first message leaves in the
 * same flight; the peer's real echo is checked when it arrives (the connection fails if it differs).
 * libp2p 3.3.11's upgrader always waits for the echo (`mss.select` in `_encryptOutbound`), one round
 * trip of every dial: at a 100 ms RTT 100–105 ms between "TCP" and "Noise chosen" in bench:transfer's
 * phases (scripts/bench/RESULTS.md, round six). The listening side is unchanged.
 */
export function lazySecurity<C> (factory: (components: C) => Transport): (components: C) => Transport {
  return (components) => {
    const transport = factory(components)
    const dial = transport.dial.bind(transport)
    transport.dial = async (ma, options) =>
      await dial(ma, { ...options, upgrader: optimisticUpgrader(options.upgrader) })
    return transport
  }
}

/** The upgrader with `upgradeOutbound` answering the security protocol's selection locally (see lazySecurity). */
function optimisticUpgrader (upgrader: Upgrader): Upgrader {
  const encrypters = [...upgrader.getConnectionEncrypters().keys()]
  return {
    upgradeOutbound: async (maConn: MultiaddrConnection, opts: Parameters<Upgrader['upgradeOutbound']>[1]) => {
      const protocol = encrypters[0]
      const { skipEncryption, initiator } = opts as { skipEncryption?: boolean, initiator?: boolean }
      if (encrypters.length === 1 && protocol != null && skipEncryption !== true && initiator !== false) {
        answerSelectLocally(maConn, protocol)
      }
      return await upgrader.upgradeOutbound(maConn, opts as UpgraderOptions)
    },
    upgradeInbound: upgrader.upgradeInbound.bind(upgrader),
    createInboundAbortSignal: upgrader.createInboundAbortSignal.bind(upgrader),
    getStreamMuxers: upgrader.getStreamMuxers.bind(upgrader),
    getConnectionEncrypters: upgrader.getConnectionEncrypters.bind(upgrader)
  }
}

/**
 * When the first bytes `conn` sends are multistream-select's header and `protocol`, queues the
 * expected echo as received at once and takes the peer's real one off the front when it arrives.
 */
function answerSelectLocally (conn: MultiaddrConnection, protocol: string): void {
  const expected = concat([encodeLine(PROTOCOL_ID), encodeLine(protocol)])
  const send = conn.send.bind(conn)
  const local = conn as MultiaddrConnection & { push?: (data: Uint8Array) => void }
  conn.send = (data) => {
    conn.send = send
    const sent = send(data)
    if (typeof local.push === 'function' && equals(data.subarray(), expected) && checkEcho(conn, expected, protocol)) {
      local.push(expected)
    }
    return sent
  }
}
