/**
 * Reaches the bitswap block broker that `withBitswap` adds to Helia.
 *
 * The broker itself is caught through Helia's public `addBlockBroker` (the
 * call `withBitswap`'s mixin makes at start), not read from Helia's private
 * fields. Its `bitswap.wantList` event source, which the block catcher needs
 * (see bitswap-lossless-wants.ts), and its `bitswap.network` stream handler, which
 * bitswap-streams.ts wraps, are internal to @helia/bitswap: the package is pinned
 * to an exact version in package.json, this module throws at start when the
 * shape is not there, and test/node/bitswap-broker.test.ts fails on any other
 * version. Delete the internal access once upstream fixes the lost want
 * (https://github.com/ipfs/helia/blob/main/packages/bitswap/src/want-list.ts,
 * `addEntry`: it awaits `sendMessage` before it listens for the block).
 */
import type { BitswapNetwork } from './bitswap-streams.js'
import type { BlockBroker, Helia } from '@helia/interface'
import type { CID } from 'multiformats/cid'

/** The version whose internals this module was checked against. */
export const BITSWAP_VERSION = '4.0.19'

/** What Pinery uses of the broker. */
export interface BitswapBroker {
  retrieve(cid: CID, options: { signal?: AbortSignal }): Promise<Uint8Array>
  /** Emits 'block' with `{ cid, block }` for every block bitswap receives. */
  blockEvents: EventTarget
  /** Its network, whose stream handler bitswap-streams.ts registers again. */
  network: BitswapNetwork
}

/** Call before `helia.start()`; the returned function gives the broker once Helia has started. */
export function catchBitswapBroker (helia: Pick<Helia, 'addBlockBroker'>): () => BitswapBroker {
  let caught: BlockBroker | undefined
  const add = helia.addBlockBroker.bind(helia)
  helia.addBlockBroker = (broker) => {
    if (typeof broker !== 'function' && broker.name === 'bitswap') caught = broker
    add(broker)
  }
  return () => {
    type Internals = { bitswap?: { wantList?: unknown, network?: Partial<BitswapNetwork> } }
    const bitswap = (caught as Internals | undefined)?.bitswap
    const internals = bitswap?.wantList
    const network = bitswap?.network
    if (caught?.retrieve == null || !(internals instanceof EventTarget) ||
      typeof network?._onStream !== 'function' || !Array.isArray(network.protocols)) {
      throw new Error(`@helia/bitswap is not ${BITSWAP_VERSION} as checked: its broker or wantList moved; ` +
        'see src/node/bitswap-broker.ts')
    }
    return {
      retrieve: caught.retrieve.bind(caught) as BitswapBroker['retrieve'],
      blockEvents: internals,
      network: network as BitswapNetwork
    }
  }
}
