/**
 * Recursive pins of whole DAGs, in Pinery's own keys: the one owner of which
 * DAGs are pinned and which blocks they keep. The pin service writes them;
 * the garbage collector, the gateway, quotas and the worker read them here.
 *
 *   /pinery/dag/<root CIDv1>              → cbor { dagSize }
 *   /pinery/dag-block/<base36 multihash>  → cbor { by: [root CIDv1 bytes…] }
 *
 * Why not `helia.pins`: Helia 7's `pins.rm` filters `pinnedBy` the wrong way
 * round (keeps the removed pin, drops the others), after which a re-add skips
 * the count increment and a later removal unpins blocks that a live DAG still
 * uses (helia 7.1.15, https://github.com/ipfs/helia/blob/main/packages/helia/src/pins.ts,
 * `rm`: `pinnedBlock.pinnedBy.filter(c => uint8ArrayEquals(c, cid.bytes))`: the
 * filter keeps only the removed root; delete this note's workaround once it
 * is `!uint8ArrayEquals`). It also
 * re-reads every block of a DAG we have just walked. Data dirs of earlier
 * builds kept pins in Helia's layout; `migrateHeliaPins` moves them here.
 */
import * as cborg from 'cborg'
import { Key } from 'interface-datastore'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { equals } from 'uint8arrays/equals'
import type { Datastore } from 'interface-datastore'
import type { Level } from 'level'

/** Recursive pins of whole DAGs. */
export interface DagPins {
  /** True when `root` itself is pinned (not merely a block of another pin). */
  hasPin(root: CID): Promise<boolean>
  /** True when some pinned DAG keeps the block `cid` (any codec or version of its multihash). */
  isPinned(cid: CID, options?: { signal?: AbortSignal }): Promise<boolean>
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
  /** A LevelDB datastore: its `db` reads many pinned-block entries at once. */
  datastore: Datastore & { db: Pick<Level<string, Uint8Array>, 'getMany'> }
}

interface PinnedBlock {
  by: Uint8Array[]
}

/** A pin or unpin waiting to be applied. */
interface Change {
  root: CID
  blocks: CID[]
  adding: boolean
  dagSize?: number
  resolve(): void
  reject(err: unknown): void
}

export const DAG_PREFIX = '/pinery/dag/'
export const DAG_BLOCK_PREFIX = '/pinery/dag-block/'

function pinKey (root: CID): Key {
  return new Key(`${DAG_PREFIX}${root.toV1().toString()}`)
}

/** A block's key: its multihash, so every CID of the same bytes agrees. */
export function pinnedBlockKey (cid: CID): Key {
  return new Key(`${DAG_BLOCK_PREFIX}${base36.encode(cid.multihash.bytes)}`)
}

/** Creates the pin layer, loading the pinned roots into memory. */
export async function createDagPins (components: DagPinsComponents): Promise<DagPins> {
  const { datastore } = components
  // Pinned roots (CIDv1 string) and their DAG sizes: asked on every pin and admission.
  const roots = new Map<string, number | undefined>()
  for await (const { key, value } of datastore.query({ prefix: DAG_PREFIX })) {
    const { dagSize } = cborg.decode(value) as { dagSize?: unknown }
    roots.set(key.toString().slice(DAG_PREFIX.length), typeof dagSize === 'number' ? dagSize : undefined)
  }
  /**
   * Pinned-block entries are shared between DAGs, so every change is applied by one
   * writer: changes that arrive while it writes are applied together next, in
   * arrival order, as one batch (bench:many settles 10,000 one-block pins: one
   * lock-step read and write each made them queue behind one another).
   */
  let waiting: Change[] = []
  let writing = false

  /** Applies `changes` in order in one batch; resolves once it is written. */
  async function apply (changes: Change[]): Promise<void> {
    const entries = new Map<string, { key: Key, entry: PinnedBlock, dirty: boolean }>()
    // Each change's entries, in its blocks' order (a key is made once per block).
    const touched = changes.map(({ blocks }) => blocks.map(cid => {
      const key = pinnedBlockKey(cid)
      const text = key.toString()
      let e = entries.get(text)
      if (e == null) { e = { key, entry: { by: [] }, dirty: false }; entries.set(text, e) }
      return e
    }))
    // One read for the whole group (a get each cost ~50 µs of the main thread under load in bench:many).
    const values = await datastore.db.getMany([...entries.keys()])
    let i = 0
    for (const e of entries.values()) {
      const value = values[i++]
      if (value != null) e.entry = cborg.decode(value) as PinnedBlock
    }
    const batch = datastore.batch()
    changes.forEach(({ root, adding, dagSize }, c) => {
      const rootBytes = root.toV1().bytes
      for (const e of touched[c] ?? []) {
        const has = e.entry.by.some(b => equals(b, rootBytes))
        if (adding === has) continue
        e.entry = { by: adding ? [...e.entry.by, rootBytes] : e.entry.by.filter(b => !equals(b, rootBytes)) }
        e.dirty = true
      }
      if (adding) batch.put(pinKey(root), cborg.encode(dagSize == null ? {} : { dagSize }))
      else batch.delete(pinKey(root))
    })
    for (const { key, entry, dirty } of entries.values()) {
      if (!dirty) continue
      if (entry.by.length === 0) batch.delete(key)
      else batch.put(key, cborg.encode(entry))
    }
    await batch.commit()
    for (const { root, adding, dagSize } of changes) {
      if (adding) roots.set(root.toV1().toString(), dagSize)
      else roots.delete(root.toV1().toString())
    }
  }

  async function drain (): Promise<void> {
    writing = true
    while (waiting.length > 0) {
      const group = waiting
      waiting = []
      try {
        await apply(group)
        for (const c of group) c.resolve()
      } catch (err) {
        if (group.length === 1) { group[0]?.reject(err); continue }
        // One change's failure must not fail the others: each on its own.
        for (const c of group) await apply([c]).then(c.resolve, c.reject)
      }
    }
    writing = false
  }

  async function update (root: CID, blocks: CID[], adding: boolean, dagSize?: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      waiting.push({ root, blocks, adding, ...(dagSize != null ? { dagSize } : {}), resolve, reject })
      if (!writing) void drain()
    })
  }

  return {
    async hasPin (root) {
      return roots.has(root.toV1().toString())
    },
    async isPinned (cid, options) {
      options?.signal?.throwIfAborted()
      return await datastore.has(pinnedBlockKey(cid))
    },
    async dagSize (root) {
      return roots.get(root.toV1().toString())
    },
    async * ls () {
      for (const key of roots.keys()) yield CID.parse(key)
    },
    async add (root, blocks, dagSize) {
      await update(root, blocks, true, dagSize)
    },
    async rm (root, blocks) {
      await update(root, blocks, false)
    }
  }
}
