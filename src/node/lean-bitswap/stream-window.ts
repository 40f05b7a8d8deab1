/**
 * Opens a large yamux receive window on an incoming bitswap stream at once. js-yamux starts every
 * stream at 256 KiB and doubles the window once per round trip while data keeps coming, so a fetch
 * over a fresh connection would spend ~6 round trips in that ramp before the window reaches its
 * 16 MiB cap, and a 256 KiB leaf does not fit the first window (one more round trip before the first
 * leaf). A window update is plain yamux (go-yamux grants the same way); the initial window setting
 * cannot do it, because js-yamux also assumes the remote's initial window is that size.
 *
 * The window granted is BITSWAP_STREAM_WINDOW, above js-yamux's 16 MiB cap: a stream's window bounds
 * its throughput at window / RTT, and 16 MiB at 100 ms is 160 MiB/s, barely above what this receiver
 * takes at 0 ms (~130–140 MiB/s), so every pause of the receiver (a GC, a burst of file writes) cost
 * throughput it could not make up. Measured (scripts/bench/RESULTS.md, round six: latency): 1 GiB at
 * 100 ms RTT, side by side with the 16 MiB build, 125.6 against 108.9 MiB/s end to end (each of 3 runs
 * +13–23 %; +7 % in a run at load 5–10); alike at 0 ms.
 *
 * It does not change what a peer can make Pinery hold: messages are read as they arrive (the window
 * never fills in Pinery's memory; the bytes in flight are on the network and in the kernel's socket
 * buffers), and each message is bounded by MAX_MESSAGE_BYTES and the inbound budget. Any other muxer's
 * stream is left alone.
 */
import type { Stream } from '@libp2p/interface'

/** The receive window of an incoming bitswap stream: 32 MiB, the bandwidth-delay product of ~320 MiB/s at 100 ms. */
export const BITSWAP_STREAM_WINDOW = 32 * 1024 * 1024

/** The parts of js-yamux's YamuxStream this uses (private in its typings, stable since v6). */
interface YamuxWindow {
  recvWindow: number
  maxStreamWindowSize: number
  sendWindowUpdate(): void
}

/**
 * Raises the stream's receive window (and its cap, so that yamux's own tuning keeps it there) to
 * `window` and tells the sender; false if it is not yamux's.
 */
export function grantFullWindow (stream: Stream, window = BITSWAP_STREAM_WINDOW): boolean {
  const s = stream as unknown as Partial<YamuxWindow>
  if (typeof s.recvWindow !== 'number' || typeof s.maxStreamWindowSize !== 'number' ||
    typeof s.sendWindowUpdate !== 'function' || s.recvWindow >= window) return false
  s.maxStreamWindowSize = Math.max(s.maxStreamWindowSize, window)
  s.recvWindow = window
  s.sendWindowUpdate()
  return true
}

/** js-yamux's initial stream window: what a stream gets before anything is granted. */
export const DEFAULT_STREAM_WINDOW = 256 * 1024

/**
 * Keeps the stream's receive window at `window` from the next update on (js-yamux otherwise doubles it, up
 * to 16 MiB, while data keeps coming): for a stream of a peer that is not sending what Pinery fetches, so
 * that while it is paused (byte-budget.ts) no more than this is granted again; what was granted before may
 * still arrive, which is why a connection keeps at most 4 streams paused. False if not yamux's.
 */
export function limitWindow (stream: Stream, window = DEFAULT_STREAM_WINDOW): boolean {
  const s = stream as unknown as Partial<YamuxWindow>
  if (typeof s.recvWindow !== 'number' || typeof s.maxStreamWindowSize !== 'number') return false
  s.maxStreamWindowSize = window
  s.recvWindow = Math.min(s.recvWindow, window)
  return true
}
