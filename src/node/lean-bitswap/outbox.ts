/**
 * One long-lived outbound bitswap stream per peer, reused for every message to it (the spec's
 * model, and kubo's). @helia/bitswap opens a new stream for each message, which costs a
 * multistream-select round trip per message: with a 100 ms RTT that was ~4 of the ~12 round trips
 * of a 64 MiB pin (scripts/bench/RESULTS.md, round two). Messages go out in order; a send waits for
 * the stream to drain, so a slow peer slows its sender instead of growing a buffer.
 */
import { frame } from './wire.js'
import type { Message } from './message.js'
import type { Logger } from '../../logger.js'
import type { Stream } from '@libp2p/interface'

/** A stream idle this long is replaced before the next send: Helia drops inbound streams idle for 10 s. */
export const OUTBOX_IDLE_MS = 5_000

/** A message the peer has not taken within this long (its window stays shut) ends the stream. */
export const SEND_TIMEOUT_MS = 30_000

/** Sends messages to one peer. */
export interface Outbox {
  /** Sends one message; resolves once it is handed to the stream (after a drain if needed). Never throws. */
  send(message: Partial<Message>): Promise<boolean>
  /** Opens the stream now, so that the first message does not wait for its negotiation; false if it cannot. */
  warm(): Promise<boolean>
  /** Closes the stream; later sends are dropped. */
  close(): void
}

/** Settings of an outbox. */
export interface OutboxInit {
  idleMs?: number
}

/** How an outbox gets a fresh stream to its peer. */
export interface OutboxComponents {
  openStream(signal: AbortSignal): Promise<Stream>
  log: Logger
}

/** Creates the outbox of one peer; its stream is opened at the first send. */
export function createOutbox (init: OutboxInit, components: OutboxComponents): Outbox {
  const idleMs = init.idleMs ?? OUTBOX_IDLE_MS
  const closer = new AbortController()
  let stream: Stream | undefined
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
      lastSend = performance.now()
    }
    return s
  }

  async function write (message: Partial<Message>): Promise<boolean> {
    // A failed write is tried once more on a fresh stream: the remote may have dropped an idle one.
    for (let attempt = 0; attempt < 2 && !closer.signal.aborted; attempt++) {
      try {
        const s = await open()
        lastSend = performance.now()
        let more = true
        for (const part of frame(message)) more = s.send(part)
        if (!more) {
          await s.onDrain({ signal: AbortSignal.any([closer.signal, AbortSignal.timeout(SEND_TIMEOUT_MS)]) })
        }
        lastSend = performance.now()
        return true
      } catch (err) {
        components.log.debug({ err: (err as Error).message, attempt }, 'bitswap send failed')
        stream?.abort(err as Error)
        stream = undefined
      }
    }
    return false
  }

  return {
    async send (message) {
      const sent = tail.then(async () => await write(message))
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
      const s = stream
      stream = undefined
      if (s != null && s.status === 'open') void s.close().catch(() => { s.abort(new Error('closed')) })
    }
  }
}
