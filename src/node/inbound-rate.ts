/**
 * Inbound libp2p connections per second from one remote address group: an IPv4 address, an IPv6 address's /64
 * (connection-limits.ts addressGroup). libp2p's own `inboundConnectionThreshold` counts each exact address, so an
 * IPv6 peer given a /64 had 2^64 "hosts" of 50 connections a second each (round thirteen: 20 addresses of one
 * /64 opened 20 times as many connections as one). A connection costs Pinery ~2.1 ms of CPU (Noise handshake,
 * identify) before anything else limits it, so this runs in the connection gater, before the upgrade.
 */
import { multiaddrGroup } from '../connection-limits.js'
import { createKeyedBuckets } from '../token-bucket.js'
import type { ConnectionGater } from '@libp2p/interface'

/**
 * Address groups whose counts are kept: the least recently seen goes first (its count starts afresh). Enough for
 * every connection the node holds (1,000) many times over; an attacker cycling more groups than this within a
 * second already holds more addresses than the limit is for.
 */
const MAX_GROUPS = 16_384

/** Settings. */
export interface InboundRateInit {
  /** Inbound connections a second from one address group (also the burst). */
  perSecond: number
}

/** The gater's part that refuses inbound connections past the rate; `refused` counts them. */
export interface InboundRate {
  denyInboundConnection: NonNullable<ConnectionGater['denyInboundConnection']>
  refused(): number
}

/** Creates the rate. */
export function createInboundRate (init: InboundRateInit): InboundRate {
  const buckets = createKeyedBuckets({ perSecond: init.perSecond, burst: init.perSecond, maxKeys: MAX_GROUPS })
  let refused = 0
  return {
    denyInboundConnection: (maConn) => {
      if (buckets.get(multiaddrGroup(maConn.remoteAddr)).takeUpTo(1) === 1) return false
      refused++
      return true
    },
    refused: () => refused
  }
}
