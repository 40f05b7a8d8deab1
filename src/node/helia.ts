/**
 * Assembles Helia with exactly the parts Pinery uses: libp2p over TCP with
 * Noise and Yamux, identify, and bitswap as the only block broker. Helia's
 * default HTTP gateways and delegated routers are left out on purpose: a
 * pinning service must fetch from the peers it is told about, not from
 * third-party gateways.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withLibp2pLight } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import { createHeliaLight } from 'helia'
import * as json from 'multiformats/codecs/json'
import { sha512 } from 'multiformats/hashes/sha2'
import { ConfigError } from '../errors.js'
import { startBitswapEngine } from './bitswap-engines.js'
import { createComponentLogger } from './component-logger.js'
import { lazySecurity, lazySelect } from './lazy-select.js'
import { dialOutcomeOf, type DialOutcome } from './dial-outcome.js'
import { createInboundRate } from './inbound-rate.js'
import { guardInboundStreams } from './inbound-streams.js'
import { MAX_INBOUND_STREAMS } from './lean-bitswap/wire.js'
import { trailingPeerId } from './multiaddrs.js'
import { startPeerStoreSweep } from './peer-store-sweep.js'
import type { BitswapImplementation } from './bitswap-engines.js'
import type { PineryNode, PineryNodeComponents, PineryNodeInit } from './index.js'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Delegates are capped by the spec at 20. */
const MAX_DELEGATES = 20

/**
 * Bitswap settings for nodes built without a service configuration (the
 * origin peers of tests and benchmarks). The service itself overrides the
 * wantlist debounce with PINERY_WANTLIST_DEBOUNCE_MS (default 5 ms: wants
 * of many small pins then share messages). Zero block-send debounce answers
 * wants as soon as they arrive; Helia's 10 ms default halves sequential speed.
 */
export const BITSWAP_OPTIONS = {
  sendWantlistDebounce: 0,
  sendBlocksDebounce: 0,
  maxInboundStreams: MAX_INBOUND_STREAMS,
  maxOutboundStreams: 256
}

/** The bitswap of nodes built without a choice (test and benchmark peers); the service passes PINERY_BITSWAP. */
export const DEFAULT_BITSWAP: BitswapImplementation = 'helia'

/**
 * Connection limits generous enough for many loopback peers dialing at once. Inbound connections per second
 * from one host (libp2p's default is 5): a connection costs Pinery ~2.1 ms of CPU (Noise handshake, identify),
 * and one host reconnecting as fast as it could (237 a second from 8 loops) kept half a core busy at the
 * 1,000 allowed until round twelve (scripts/bench/RESULTS.md, round twelve: streams); 50 a second is ~0.1 of
 * a core per host. libp2p counts each address as a host; inbound-rate.ts counts an IPv6 /64 as one with the
 * same number. Tests that dial many peers from 127.0.0.1 set their own (PineryNodeInit).
 */
export const CONNECTION_MANAGER_OPTIONS = {
  inboundConnectionThreshold: 50,
  maxIncomingPendingConnections: 100,
  maxConnections: 1000
}

/** Creates and starts the node. */
export async function createPineryNode (init: PineryNodeInit, components: PineryNodeComponents): Promise<PineryNode> {
  const log = components.logger.child({ component: 'node' })
  const gate = components.dialGate
  // Helia's and libp2p's own debug lines go to Pinery's log.
  const logger = createComponentLogger(components.logger)
  const guarded = guardInboundStreams(lazySelect(yamux()), init.inboundStreams)
  const threshold = init.inboundConnectionThreshold ?? CONNECTION_MANAGER_OPTIONS.inboundConnectionThreshold
  const inboundRate = createInboundRate({
    perSecond: threshold,
    ...(init.inboundConnectionsPerSecond != null ? { nodePerSecond: init.inboundConnectionsPerSecond } : {})
  })
  const light = withLibp2pLight(createHeliaLight({
    logger,
    blockstore: components.blockstore,
    datastore: components.datastore,
    blockBrokers: [],
    routers: [],
    codecs: [dagCbor, dagJson, json],
    hashers: [sha512]
  }), {
    ...(init.privateKey != null ? { privateKey: init.privateKey } : {}),
    logger,
    addresses: {
      listen: init.listen.map(String),
      announce: init.announce.map(String)
    },
    // Outbound connections select Noise optimistically: one round trip less per dial (lazy-select.ts).
    transports: [lazySecurity(tcp())],
    connectionEncrypters: [noise()],
    // Outbound streams opened with `negotiateFully: false` select their protocol optimistically (lazy-select.ts);
    // inbound ones hold little until a handler reads them (inbound-streams.ts).
    streamMuxers: [guarded.factory],
    services: { identify: identify() },
    connectionManager: {
      ...CONNECTION_MANAGER_OPTIONS,
      ...(init.maxConnections != null ? { maxConnections: init.maxConnections } : {}),
      inboundConnectionThreshold: threshold,
      ...(gate != null ? { resolvers: gate.resolvers } : {})
    },
    connectionGater: { ...gate?.connectionGater, denyInboundConnection: inboundRate.denyInboundConnection }
  })
  const engine = await startBitswapEngine(init.bitswapImplementation ?? DEFAULT_BITSWAP,
    init.bitswap ?? BITSWAP_OPTIONS, {
      light,
      blockstore: components.blockstore,
      logger: components.logger,
      ...(components.readInto != null ? { readInto: components.readInto } : {})
    })
  const { helia, want } = engine
  const libp2p = helia.libp2p
  // Origins the node dials are spared the node-wide inbound rate (inbound-rate.ts).
  libp2p.addEventListener('connection:open', (evt) => {
    if (evt.detail.direction === 'outbound') inboundRate.dialled(evt.detail.remoteAddr)
  })
  const peerId = libp2p.peerId.toString()
  if (libp2p.getMultiaddrs().length === 0) {
    await engine.stop()
    throw new ConfigError('the node has no address to hand out as delegates: set PINERY_LISTEN or PINERY_ANNOUNCE')
  }
  const foreign = init.announce.find(ma => { const id = trailingPeerId(ma); return id != null && id !== peerId })
  if (foreign != null) {
    await engine.stop()
    throw new ConfigError(`PINERY_ANNOUNCE: ${foreign.toString()} names another peer; this node is ${peerId}`)
  }

  // Records of peers that left are removed: strangers' fresh peer IDs would otherwise fill the datastore.
  const sweep = startPeerStoreSweep({ libp2p, logger: components.logger })

  // Every PinStatus carries the delegates: computed when the addresses change, not per answer.
  const computeDelegates = (): string[] =>
    [...new Set(libp2p.getMultiaddrs().map(ma => withPeerId(ma, peerId)))].slice(0, MAX_DELEGATES)
  let delegates = computeDelegates()
  libp2p.addEventListener('self:peer:update', () => { delegates = computeDelegates() })

  return {
    helia,
    libp2p,
    peerId,
    delegates () {
      return delegates
    },
    want,
    async dialAll (addrs, options) {
      const dial = async (ma: Multiaddr, index: number): Promise<void> => {
        let outcome: DialOutcome = { kind: 'connected' }
        // Re-dialing a connected peer still costs a peer-store read and write.
        const id = trailingPeerId(ma)
        if (id == null || !libp2p.getConnections().some(c => c.remotePeer.toString() === id)) {
          try {
            await libp2p.dial(ma, { signal: options.signal })
          } catch (err) {
            log.debug({ addr: ma.toString(), err: (err as Error).message }, 'origin dial failed')
            outcome = dialOutcomeOf(err, ma, gate, options.signal)
          }
        }
        options.onOutcome?.(index, outcome)
      }
      // One peer's addresses one after another, as libp2p tries them anyway: dialed at once, they merge into
      // one dial that fails with every address's error together, and no address could be told its own.
      const byPeer = new Map<string, number[]>()
      addrs.forEach((ma, i) => {
        const key = trailingPeerId(ma) ?? `#${i}`
        byPeer.set(key, [...byPeer.get(key) ?? [], i])
      })
      await Promise.all([...byPeer.values()].map(async (indexes) => {
        for (const i of indexes) await dial(addrs[i] as Multiaddr, i)
      }))
    },
    inboundStreams: guarded.stats,
    async stop () {
      sweep.stop()
      await engine.stop()
    }
  }
}

function withPeerId (ma: Multiaddr, peerId: string): string {
  return trailingPeerId(ma) == null ? `${ma.toString()}/p2p/${peerId}` : ma.toString()
}
