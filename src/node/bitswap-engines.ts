/**
 * The two bitswap implementations a node can run (PINERY_BITSWAP): `lean`, Pinery's own
 * (lean-bitswap/), and `helia`, stock @helia/bitswap with Pinery's two workarounds for it. Both give
 * the node the same `want`, and both answer other peers' wants from the node's blockstore.
 */
import { withBitswap } from '@helia/bitswap'
import { catchBitswapBroker } from './bitswap-broker.js'
import { createBlockCatcher } from './bitswap-lossless-wants.js'
import { endStreamsClosedEarly } from './bitswap-streams.js'
import { joinBlock, type BlockBytes } from './block-bytes.js'
import { createLeanBitswap, type LeanBitswap } from './lean-bitswap/index.js'
import type { BlockReadInto } from './lean-bitswap/ledger.js'
import type { Logger } from '../logger.js'
import type { BitswapOptions } from '@helia/bitswap'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import type { ServiceMap } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** Which bitswap runs. */
export type BitswapImplementation = 'lean' | 'helia'

/** The started node with its bitswap. */
export interface BitswapEngine {
  helia: HeliaWithLibp2p<ServiceMap>
  want(cid: CID, options: { signal?: AbortSignal }): Promise<BlockBytes>
  stop(): Promise<void>
}

/** What an engine is started on: a Helia with libp2p, not yet started. */
export interface BitswapEngineComponents {
  light: HeliaWithLibp2p<ServiceMap>
  blockstore: Pick<Blockstore, 'get' | 'has'>
  /** For the lean bitswap's block reads into reused buffers. */
  readInto?: BlockReadInto
  logger: Logger
}

/** Starts Helia with the chosen bitswap. */
export async function startBitswapEngine (
  implementation: BitswapImplementation, options: BitswapOptions, components: BitswapEngineComponents
): Promise<BitswapEngine> {
  return implementation === 'lean'
    ? await startLean(options, components)
    : await startHelia(options, components)
}

async function startLean (
  options: BitswapOptions, { light, blockstore, readInto, logger }: BitswapEngineComponents
): Promise<BitswapEngine> {
  // Helia's libp2p exists only once Helia has started; the broker is added before, bound late.
  const ref: { lean?: LeanBitswap } = {}
  light.addBlockBroker({
    name: 'lean-bitswap',
    retrieve: async (cid, opts) => {
      if (ref.lean == null) throw new Error('bitswap has not started')
      // Helia's callers want one buffer; Pinery's walker takes the pieces as they are (node.want).
      return joinBlock(await ref.lean.want(cid, opts ?? {}))
    }
  })
  await light.start()
  const started = createLeanBitswap({ wantlistDebounceMs: options.sendWantlistDebounce ?? 0 },
    { libp2p: light.libp2p, blockstore, logger, ...(readInto != null ? { readInto } : {}) })
  try {
    await started.start()
  } catch (err) {
    await light.stop()
    throw err
  }
  ref.lean = started
  return {
    helia: light,
    want: started.want,
    async stop () {
      await started.stop()
      await light.stop()
    }
  }
}

async function startHelia (options: BitswapOptions, { light }: BitswapEngineComponents): Promise<BitswapEngine> {
  const bitswapBroker = catchBitswapBroker(light)
  const helia = withBitswap(light, options)
  await helia.start()
  try {
    // The fetcher wants blocks from the bitswap broker directly: bitswap derives
    // each block's CID from its bytes, so what it returns is verified, whereas
    // helia.blockstore.get hashes every block a second time (and wraps it in
    // several store layers).
    const broker = bitswapBroker()
    const want = createBlockCatcher({ retrieve: broker.retrieve, blockEvents: broker.blockEvents })
    // kubo closes each bitswap stream at once; @helia/bitswap would then hold every block it received.
    await endStreamsClosedEarly(helia.libp2p, broker.network)
    return { helia, want, stop: async () => { await helia.stop() } }
  } catch (err) {
    await helia.stop()
    throw err
  }
}
