/**
 * How a dial of one origin ended, told apart from libp2p's errors, so a request's status can say what to fix
 * (src/pins/origin-notes.ts words it). libp2p 3.x gives (measured on 127.0.0.1): `DialDeniedError` when the dial
 * gate refused every address, `NoValidAddressesError` when a name resolved to none, an `Error` with code
 * ECONNREFUSED when nothing listens, `EncryptionFailedError` "Payload identity key … does not match expected
 * remote identity key …" when another peer answers, `EncryptionFailedError` "the peer did not select /noise"
 * when what answers is no libp2p peer (a web server), and one with "timeout" in its message when the peer
 * never finishes the handshake (after ~6 s).
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { DialGate } from './dial-gate.js'

/** How a dial of one origin ended. */
export type DialOutcome =
  | { kind: 'connected' }
  /** Refused by the dial gate: `rule` names the range (absent for a DNS name, whose resolution is not told). */
  | { kind: 'denied', rule?: string }
  | { kind: 'refused' }
  | { kind: 'timeout' }
  | { kind: 'wrong-peer' }
  /** Something accepted the connection but does not speak libp2p (a web server, a proxy). */
  | { kind: 'not-libp2p' }
  | { kind: 'unreachable' }
  /** Any other error, by its name (never its message, which may say more than the person gave). */
  | { kind: 'failed', error: string }
  /** The dial was cut short because nobody wants the fetch any more. */
  | { kind: 'aborted' }

const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT'])

/** What `err`, thrown by a dial to `ma`, means; `gate` names the refused range of an IP address. */
export function dialOutcomeOf (
  err: unknown, ma: Multiaddr, gate: Pick<DialGate, 'refusal'> | undefined, signal: AbortSignal
): DialOutcome {
  if (signal.aborted) return { kind: 'aborted' }
  // Dials of one peer's addresses made at once (other requests') merge into one that fails with all their
  // errors: the first one tells.
  if (err instanceof AggregateError && err.errors.length > 0) return dialOutcomeOf(err.errors[0], ma, gate, signal)
  const e: Error & { code?: unknown } = err instanceof Error ? err : new Error(String(err))
  const host = ma.getComponents()[0]?.name
  if (e.name === 'DialDeniedError' || e.name === 'NoValidAddressesError') {
    const rule = host === 'ip4' || host === 'ip6' ? gate?.refusal(ma) : undefined
    return rule == null ? { kind: 'denied' } : { kind: 'denied', rule }
  }
  if (e.code === 'ECONNREFUSED') return { kind: 'refused' }
  if (e.code === 'ETIMEDOUT' || e.name === 'TimeoutError' || /timed? ?out/i.test(e.message)) return { kind: 'timeout' }
  if (typeof e.code === 'string' && UNREACHABLE.has(e.code)) return { kind: 'unreachable' }
  if (/does not match expected remote identity|unexpected peer/i.test(e.message)) return { kind: 'wrong-peer' }
  if (/did not select|multistream|unsupported protocol/i.test(e.message)) return { kind: 'not-libp2p' }
  return { kind: 'failed', error: e.name }
}
