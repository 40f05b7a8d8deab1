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
