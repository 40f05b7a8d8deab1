/**
 * Recursive pins written in Helia's own datastore format (`/pin/<cid>` and
 * `/pinned-block/<multihash>` with `{ pinCount, pinnedBy }`), so Helia's
 * `pins.isPinned`, `pins.ls` and `blockstore.delete` honour them.
 *
 * Why not `helia.pins` itself: Helia 7's `pins.rm` filters `pinnedBy` the
 * wrong way round (keeps the removed pin, drops the others), after which a
 * re-add skips the count increment and a later removal unpins blocks that a
 * live DAG still uses. It also re-reads every block of a DAG we have just
 * walked. This module takes the block list from the fetch and updates all
 * counts in one atomic batch.
 */
import * as cborg from 'cborg'
import { Key } from 'interface-datastore'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { equals } from 'uint8arrays/equals'
import { createKeyedMutex } from './keyed-mutex.js'
import type { Datastore } from 'interface-datastore'

/** Recursive pins of whole DAGs. */
export interface DagPins {
  /** True when `root` itself is pinned (not merely a block of another pin). */
  hasPin(root: CID): Promise<boolean>
  /** The DAG size recorded when `root` was pinned, if it is pinned and one was recorded. */
  dagSize(root: CID): Promise<number | undefined>
  /** Every pinned root. */
  ls(): AsyncGenerator<CID>
  /** Pins `root`, whose distinct blocks are `blocks` and total `dagSize` bytes. */
  add(root: CID, blocks: CID[], dagSize: number): Promise<void>
  /** Unpins `root`, whose distinct blocks are `blocks`. */
  rm(root: CID, blocks: CID[]): Promise<void>
}

/** What the pins are stored in. */
export interface DagPinsComponents {
  datastore: Datastore
}

interface PinnedBlock {
  pinCount: number
  pinnedBy: Uint8Array[]
}

function pinKey (root: CID): Key {
  return new Key(`/pin/${root.toV1().toString(base36)}`)
}

function blockKey (cid: CID): Key {
  return new Key(`/pinned-block/${base36.encode(cid.multihash.bytes)}`)
}

/** Creates the pin layer over Helia's datastore, loading the pinned roots into memory. */
export async function createDagPins (components: DagPinsComponents): Promise<DagPins> {
  const { datastore } = components
  // Pinned roots (CIDv1 string) and their DAG sizes: asked on every pin and admission.
  const roots = new Map<string, number | undefined>()
  for await (const { key, value } of datastore.query({ prefix: '/pin/' })) {
    const root = CID.parse(key.toString().slice('/pin/'.length), base36)
    const pin = cborg.decode(value) as { metadata?: { dagSize?: unknown } }
    roots.set(root.toV1().toString(), typeof pin.metadata?.dagSize === 'number' ? pin.metadata.dagSize : undefined)
  }
  // Pinned-block entries are shared between DAGs: serialise every update.
  const lock = createKeyedMutex()

  async function readBlock (key: Key): Promise<PinnedBlock> {
    try {
      return cborg.decode(await datastore.get(key)) as PinnedBlock
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') return { pinCount: 0, pinnedBy: [] }
      throw err
    }
  }

  async function update (root: CID, blocks: CID[], adding: boolean, dagSize?: number): Promise<void> {
    const rootBytes = root.toV1().bytes
    const batch = datastore.batch()
    for (const cid of blocks) {
      const key = blockKey(cid)
      const entry = await readBlock(key)
      const has = entry.pinnedBy.some(b => equals(b, rootBytes))
      if (adding === has) continue
      entry.pinnedBy = adding ? [...entry.pinnedBy, rootBytes] : entry.pinnedBy.filter(b => !equals(b, rootBytes))
      entry.pinCount = entry.pinnedBy.length
      if (entry.pinCount === 0) batch.delete(key)
      else batch.put(key, cborg.encode(entry))
    }
    if (adding) batch.put(pinKey(root), cborg.encode({ depth: Infinity, metadata: dagSize == null ? {} : { dagSize } }))
    else batch.delete(pinKey(root))
    await batch.commit()
  }

  return {
    async hasPin (root) {
      return roots.has(root.toV1().toString())
    },
    async dagSize (root) {
      return roots.get(root.toV1().toString())
    },
    async * ls () {
      for (const key of roots.keys()) yield CID.parse(key)
    },
    async add (root, blocks, dagSize) {
      await lock.run('pins', async () => { await update(root, blocks, true, dagSize) })
      roots.set(root.toV1().toString(), dagSize)
    },
    async rm (root, blocks) {
      await lock.run('pins', async () => { await update(root, blocks, false) })
      roots.delete(root.toV1().toString())
    }
  }
}
