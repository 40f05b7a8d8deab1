/**
 * Works around a leak in @helia/bitswap 4's incoming-stream handler (`network.js` `_onStream`).
 * It first awaits `stream.close()`, then listens for 'message' and 'remoteCloseWrite'. kubo sends
 * each bitswap message on a new stream and closes its side at once, so by the time the handler
 * listens the remote close has already happened: the event never comes, the handler's read loop
 * waits forever and keeps the received message (a 256 KiB block) alive. Pinning 256 MiB from kubo
 * left ~750 MiB of buffers behind. Here the handler is registered again, wrapped: a
 * 'remoteCloseWrite' listener added to a stream whose remote already closed is called anyway,
 * once the buffered data has been dispatched.
 */
import type { Libp2p, StreamHandler } from '@libp2p/interface'

type Listener = ((evt: Event) => void) | { handleEvent(evt: Event): void }
type AddListener = (type: string, listener: Listener | null, options?: unknown) => void

/** The part of @helia/bitswap's Network this touches (the package does not export it). */
export interface BitswapNetwork {
  protocols: string[]
  _onStream: StreamHandler
  maxInboundStreams: number
  maxOutboundStreams: number
  runOnLimitedConnections: boolean
}

/** Re-registers bitswap's stream handler (after start) so that streams closed early still end. */
export async function endStreamsClosedEarly (libp2p: Pick<Libp2p, 'handle'>, network: BitswapNetwork): Promise<void> {
  const handler = network._onStream
  const wrapped: StreamHandler = (stream, connection) => {
    const add = (stream.addEventListener as unknown as AddListener).bind(stream)
    const patched: AddListener = (type, listener, opts) => {
      add(type, listener, opts)
      if (type !== 'remoteCloseWrite' || listener == null || stream.remoteWriteStatus !== 'closed') return
      // After the microtask in which the stream hands its buffered data to 'message' listeners.
      setImmediate(() => {
        const event = new Event('remoteCloseWrite')
        if (typeof listener === 'function') listener.call(stream, event)
        else listener.handleEvent(event)
      })
    }
    ;(stream as unknown as { addEventListener: AddListener }).addEventListener = patched
    return handler(stream, connection)
  }
  await libp2p.handle(network.protocols, wrapped, {
    maxInboundStreams: network.maxInboundStreams,
    maxOutboundStreams: network.maxOutboundStreams,
    runOnLimitedConnection: network.runOnLimitedConnections,
    force: true
  })
}
