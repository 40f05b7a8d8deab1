/**
 * Inbound libp2p connections per second from one remote address group: an IPv4 address, an IPv6 address's /64
 * (connection-limits.ts addressGroup). libp2p's own `inboundConnectionThreshold` counts each exact address, so an
 * IPv6 peer given a /64 had 2^64 "hosts" of 50 connections a second each (round thirteen: 20 addresses of one
 * /64 opened 20 times as many connections as one). A connection costs Pinery ~2.1 ms of CPU (Noise handshake,
 * identify) before anything else limits it, so this runs in the connection gater, before the upgrade.
 *
 * And for the whole node (PINERY_INBOUND_CONNECTIONS_PER_SECOND): an attacker with many addresses gets 50 a
 * second from each (round fifteen: `scripts/hostile/stream-hold.ts --mode reconnect --sources 16`). Groups the
 * node itself dialled (origins it fetches from) are not held to it, only to their own group's rate, so that a
 * flood from elsewhere does not keep them out.
 */
import { multiaddrGroup } from '../connection-limits.js'
import { createKeyedBuckets, createTokenBucket } from '../token-bucket.js'
import type { ConnectionGater } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Address groups whose counts are kept: the least recently seen goes first (its count starts afresh). Enough for
 * every connection the node holds (1,000) many times over; an attacker cycling more groups than this within a
 * second already holds more addresses than the limit is for.
 */
const MAX_GROUPS = 16_384

/**
 * Inbound connections a second to the whole node, and at once. Measured (round fifteen): 32 loops reconnecting
 * from 16 addresses opened 122 a second and took 0.73 of a core, ~6 ms of Pinery's CPU per connection (handshake,
 * identify, closing); 64 a second is ~0.4 of a core.
 */
export const NODE_INBOUND_PER_SECOND = 64

/** Settings. */
export interface InboundRateInit {
  /** Inbound connections a second from one address group (also the burst). */
  perSecond: number
  /** Inbound connections a second to the whole node (also the burst); NODE_INBOUND_PER_SECOND when absent. */
  nodePerSecond?: number
}

/** The gater's part that refuses inbound connections past the rates; `refused` counts them. */
export interface InboundRate {
  denyInboundConnection: NonNullable<ConnectionGater['denyInboundConnection']>
  /** The node dialled `remote` (an outbound connection opened): its group is spared the node-wide rate. */
  dialled(remote: Multiaddr): void
  refused(): number
}

/** Creates the rates. */
export function createInboundRate (init: InboundRateInit): InboundRate {
  const buckets = createKeyedBuckets({ perSecond: init.perSecond, burst: init.perSecond, maxKeys: MAX_GROUPS })
  const nodeRate = init.nodePerSecond ?? NODE_INBOUND_PER_SECOND
  const node = createTokenBucket({ perSecond: nodeRate, burst: nodeRate })
  // Groups dialled, least recently first (a Map in insertion order), at most MAX_GROUPS.
  const origins = new Map<string, true>()
  let refused = 0
  return {
    denyInboundConnection: (maConn) => {
      const group = multiaddrGroup(maConn.remoteAddr)
      if (buckets.get(group).takeUpTo(1) === 1 && (origins.has(group) || node.takeUpTo(1) === 1)) return false
      refused++
      return true
    },
    dialled: (remote) => {
      const group = multiaddrGroup(remote)
      origins.delete(group)
      origins.set(group, true)
      if (origins.size > MAX_GROUPS) origins.delete(origins.keys().next().value as string)
    },
    refused: () => refused
  }
}
