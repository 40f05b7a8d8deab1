/**
 * What became of a request's origins, as its status and failure say it: a pin whose origin Pinery refused to
 * dial, or where nothing listens, otherwise waits with "no block yet" and fails two minutes later with no word
 * of what to fix (first-hour walk, round ten). Only the request's own origins are told, only to its owner (the
 * status is per request), and the text is bounded (NOTES_MAX_CHARS).
 */
import { counted } from '../counted.js'
import type { DialOutcome } from '../node/index.js'

/** The text of a request's notes at most (origins are 20 at most, each up to a few hundred characters). */
const NOTES_MAX_CHARS = 360
/** An origin longer than this is shown cut in the middle. */
const ORIGIN_MAX_CHARS = 90

/** One origin's state: dialing, or how its dial ended. */
export type OriginState = { kind: 'dialing' } | DialOutcome

/** The origins of one request and what became of them. */
export interface OriginNotes {
  /** Records `origin`'s (as the person gave it) state. */
  set(origin: string, state: OriginState): void
  /** The request names origins but none Pinery dials (QUIC, WebTransport, … only). */
  noneDialable(): void
  /**
   * What to tell the person, undefined when nothing: with `all`, every origin's state (no block yet, or a
   * failure's reason); else only origins that failed (blocks are arriving from someone).
   */
  describe(all: boolean): string | undefined
}

function what (state: OriginState): string | undefined {
  switch (state.kind) {
    case 'dialing': return 'dialing'
    case 'connected': return 'connected, no block from it yet'
    case 'denied': return state.rule == null
      ? 'not dialed: its name resolves to no address Pinery may dial (see PINERY_DIAL_ALLOW)'
      : `not dialed: ${state.rule} (set PINERY_DIAL_ALLOW to allow it)`
    case 'refused': return 'connection refused (nothing listens on that port)'
    case 'timeout': return 'no answer (timed out)'
    case 'wrong-peer': return 'another peer answered (check the peer ID after /p2p/)'
    case 'not-libp2p': return 'what answers there is no IPFS peer (check the port)'
    case 'unreachable': return 'unreachable (no route to it)'
    case 'failed': return `dial failed (${state.error})`
    case 'aborted': return undefined
  }
}

/** The origin as shown: its peer ID shortened, and cut in the middle when still long. */
export function shortOrigin (origin: string): string {
  const text = origin.replace(/\/p2p\/(\w{8})\w+(\w{4})$/, '/p2p/$1…$2')
  if (text.length <= ORIGIN_MAX_CHARS) return text
  const half = Math.floor((ORIGIN_MAX_CHARS - 1) / 2)
  return `${text.slice(0, half)}…${text.slice(-half)}`
}

const peerOf = (origin: string): string => /\/p2p\/([^/]+)$/.exec(origin)?.[1] ?? origin

/** Notes for one request. */
export function createOriginNotes (): OriginNotes {
  const states = new Map<string, OriginState>()
  let undialable = false

  return {
    set (origin, state) { states.set(origin, state) },
    noneDialable () { undialable = true },
    describe (all) {
      if (undialable) return 'no origin is a plain TCP address, the one transport Pinery dials'
      // An origin peer is often named by several addresses (kubo gives its loopback, LAN and public ones):
      // once one of them connected, the others' failures do not matter.
      const connected = new Set<string>()
      for (const [origin, state] of states) if (state.kind === 'connected') connected.add(peerOf(origin))
      const notes: string[] = []
      const told = new Set<string>()
      let skipped = 0
      for (const [origin, state] of states) {
        const peer = peerOf(origin)
        if (connected.has(peer) && (state.kind !== 'connected' || told.has(peer))) continue
        told.add(peer)
        if (!all && (state.kind === 'connected' || state.kind === 'dialing')) continue
        const said = what(state)
        if (said == null) continue
        // A peer connected already is not dialed again, by whichever address: said of the peer, not an address.
        const note = state.kind === 'connected'
          ? `origin peer ${shortOrigin(`/p2p/${peer}`).slice(5)}: ${said}`
          : `origin ${shortOrigin(origin)}: ${said}`
        if (notes.join('; ').length + note.length > NOTES_MAX_CHARS) skipped++
        else notes.push(note)
      }
      if (skipped > 0) notes.push(counted(skipped, 'more origin'))
      return notes.length === 0 ? undefined : notes.join('; ')
    }
  }
}
