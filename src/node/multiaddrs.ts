/**
 * Multiaddr parsing shared by configuration (listen/announce) and request
 * validation (origins).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'

/** Parses one multiaddr, throwing an Error with a readable message. */
export function parseMultiaddr (value: string): Multiaddr {
  if (!value.startsWith('/')) throw new Error(`"${value}" is not a multiaddr (must start with /)`)
  try {
    return multiaddr(value)
  } catch (err) {
    throw new Error(`"${value}" is not a valid multiaddr: ${(err as Error).message}`)
  }
}

/**
 * The peer ID a multiaddr ends with (`/p2p/<peerId>`), or undefined when it
 * has none. Throws when the trailing peer ID is not a valid one.
 */
export function trailingPeerId (ma: Multiaddr): string | undefined {
  const components = ma.getComponents()
  const last = components[components.length - 1]
  if (last?.name !== 'p2p' || last.value == null) return undefined
  peerIdFromString(last.value)
  return last.value
}

/** Parses a comma-separated list; an empty string is an empty list. */
export function parseMultiaddrList (value: string, opts: { requireTcp: boolean }): Multiaddr[] {
  const parts = value.split(',').map(s => s.trim()).filter(s => s !== '')
  return parts.map(part => {
    const ma = parseMultiaddr(part)
    if (opts.requireTcp && !ma.getComponents().some(c => c.name === 'tcp')) {
      throw new Error(`"${part}" is not a TCP multiaddr`)
    }
    return ma
  })
}

const HOSTS = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6'])
/**
 * What may follow `/udp/<port>` or `/tcp/<port>` in an origin besides nothing
 * (plain TCP, the one transport Pinery dials). kubo lists its QUIC, WebTransport
 * and WebRTC addresses among its origins, and refusing those would fail every
 * `ipfs pin remote add`: they are accepted and never dialed.
 */
const UNDIALED = [
  /^udp (quic-v1|quic)$/, /^udp quic-v1 webtransport( certhash)*$/, /^udp webrtc-direct( certhash)*$/,
  /^tcp (ws|wss|tls ws|tls sni ws)$/
]

/**
 * Checks an origin's shape: `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>/p2p/<peerId>`
 * (dialed), or a QUIC/WebTransport/WebRTC/WebSocket address over such a host
 * (accepted, not dialed). Anything else (`/unix`, `/memory`, `/p2p-circuit`,
 * `/dnsaddr`, …) throws naming the origin. Returns whether Pinery dials it.
 */
export function checkOrigin (value: string, ma: Multiaddr): boolean {
  const names = ma.getComponents().map(c => c.name)
  const [host, transport] = names
  const middle = names.slice(1, -1).join(' ')
  const ok = names.length >= 3 && HOSTS.has(host as string) && names[names.length - 1] === 'p2p' &&
    (middle === 'tcp' || UNDIALED.some(re => re.test(middle))) && (transport === 'tcp' || transport === 'udp')
  if (!ok) {
    throw new Error(`"${value}" is not an origin Pinery accepts: ` +
      'use /ip4, /ip6, /dns, /dns4 or /dns6, then /tcp/<port>, ending in /p2p/<peerId>')
  }
  return middle === 'tcp'
}

/** Whether the worker dials this (stored) origin: plain TCP over an IP address or DNS name. */
export function isDialableOrigin (ma: Multiaddr): boolean {
  try { return checkOrigin(ma.toString(), ma) } catch { return false }
}
