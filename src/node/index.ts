/**
 * The embedded IPFS node: a Helia instance with libp2p over TCP and bitswap,
 * plus the addresses Pinery hands out as delegates.
 */
import type { BitswapOptions } from '@helia/bitswap'
import type { Helia } from '@helia/interface'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import type { BlockBytes } from './block-bytes.js'
import type { Blockstore } from 'interface-blockstore'
import type { Datastore } from 'interface-datastore'
import type { DialOutcome } from './dial-outcome.js'

/** What the rest of Pinery needs of the node. */
export interface PineryNode {
  helia: Helia
  libp2p: Libp2p
  /** The node's peer ID as a string. */
  peerId: string
  /** Multiaddrs handed out as `delegates`, each ending `/p2p/<peerId>` (1–20). */
  delegates(): string[]
  /**
   * Fetches one block over bitswap (not from the local store); the bytes are verified against the
   * CID, and may come as the pieces they arrived in (block-bytes.ts).
   */
  want(cid: CID, options: { signal?: AbortSignal }): Promise<BlockBytes>
  /**
   * Dials every multiaddr in parallel; failures are logged, never thrown. How each dial ended is told to
   * `onOutcome` as it ends (a request's status says them).
   */
  dialAll(addrs: Multiaddr[], options: DialAllOptions): Promise<void>
  /** What the bounds on inbound streams did (inbound-streams.ts): tests, stats. */
  inboundStreams(): import('./inbound-streams.js').InboundStreamStats
  stop(): Promise<void>
}

/** Options of {@link PineryNode.dialAll}. */
export interface DialAllOptions {
  signal: AbortSignal
  /** Told how the dial of `addrs[index]` ended, as soon as it did. */
  onOutcome?: (index: number, outcome: DialOutcome) => void
}

/** Settings of the node. */
export interface PineryNodeInit {
  listen: Multiaddr[]
  announce: Multiaddr[]
  /** Bitswap settings; Pinery's tuned ones when absent (benchmarks pass {} for Helia's defaults). */
  bitswap?: BitswapOptions
  /** Pinery's lean bitswap or stock @helia/bitswap (PINERY_BITSWAP); DEFAULT_BITSWAP when absent. */
  bitswapImplementation?: import('./bitswap-engines.js').BitswapImplementation
  /** The node's key (loadNodeKey); when absent Helia loads or creates the plain one in the datastore. */
  privateKey?: PrivateKey
  /** Open libp2p connections at most (CONNECTION_MANAGER_OPTIONS' when absent); further inbound ones are refused. */
  maxConnections?: number
  /**
   * Inbound connections a second from one source: an IPv4 address or an IPv6 /64 (inbound-rate.ts, in the
   * connection gater; libp2p's own threshold, set to the same, counts each address). CONNECTION_MANAGER_OPTIONS'
   * when absent.
   */
  inboundConnectionThreshold?: number
  /** Inbound connections a second to the whole node (PINERY_INBOUND_CONNECTIONS_PER_SECOND; inbound-rate.ts). */
  inboundConnectionsPerSecond?: number
  /** Bounds on inbound streams before a handler reads them (inbound-streams.ts); its defaults when absent. */
  inboundStreams?: import('./inbound-streams.js').InboundStreamsInit
}

/** What the node is built on. */
export interface PineryNodeComponents {
  blockstore: Blockstore
  /** Reads a block into a reused buffer (DurableFsBlockstore.getInto) to serve it; see lean-bitswap/ledger.ts. */
  readInto?: import('./lean-bitswap/ledger.js').BlockReadInto
  datastore: Datastore
  logger: import('../logger.js').Logger
  /** Refuses outbound dials the operator has not allowed (the service always has one; test peers need none). */
  dialGate?: Pick<import('./dial-gate.js').DialGate, 'connectionGater' | 'resolvers' | 'refusal'>
}

export { BITSWAP_OPTIONS, DEFAULT_BITSWAP, createPineryNode } from './helia.js'
export type { BitswapImplementation } from './bitswap-engines.js'
export type { DialOutcome } from './dial-outcome.js'
export { blockSize, joinBlock, type BlockBytes } from './block-bytes.js'
export { loadNodeKey } from './node-key.js'
export type { NodeKeyComponents, NodeKeyInit } from './node-key.js'
