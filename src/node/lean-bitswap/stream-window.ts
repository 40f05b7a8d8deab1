/**
 * Opens a peer's whole yamux receive window on an incoming bitswap stream at once. js-yamux starts
 * every stream at 256 KiB and doubles the window once per round trip while data keeps coming, so a
 * fetch over a fresh connection spends ~6 round trips in that ramp before the window reaches its
 * 16 MiB cap, and a 256 KiB leaf does not fit the first window (one more round trip before the first
 * leaf). A window update is plain yamux (go-yamux grants the same way); the initial window setting
 * cannot do it, because js-yamux also assumes the remote's initial window is that size.
 * It does not change what a peer can make Pinery hold: messages are read as they arrive (the window
 * never fills), and each is bounded by MAX_MESSAGE_BYTES. Measured in scripts/bench/RESULTS.md
 * (round four, "Fewer round trips"). Any other muxer's stream is left alone.
 */
import type { Stream } from '@libp2p/interface'

/** The parts of js-yamux's YamuxStream this uses (private in its typings, stable since v6). */
interface YamuxWindow {
  recvWindow: number
  maxStreamWindowSize: number
  sendWindowUpdate(): void
}

/** Raises the stream's receive window to the muxer's cap and tells the sender; false if it is not yamux's. */
export function grantFullWindow (stream: Stream): boolean {
  const s = stream as unknown as Partial<YamuxWindow>
  if (typeof s.recvWindow !== 'number' || typeof s.maxStreamWindowSize !== 'number' ||
    typeof s.sendWindowUpdate !== 'function' || s.recvWindow >= s.maxStreamWindowSize) return false
  s.recvWindow = s.maxStreamWindowSize
  s.sendWindowUpdate()
  return true
}
