/**
 * Recursive pins of whole DAGs, in Pinery's own keys: the one owner of which
 * DAGs are pinned and which blocks they keep. The pin service writes them;
 * the garbage collector, the gateway, quotas and the worker read them here.
 *
 *   /pinery/dag/<root CIDv1>                           → cbor { dagSize }
 *   /pinery/dag-block/<base36 multihash>               → cbor uint: how many roots keep the block
 *   /pinery/dag-ref/<base36 multihash>/<root CIDv1>    → empty: this root keeps this block
 *
 * One key per (block, root) pair, so pinning or unpinning costs the same per block
 * however many DAGs share it; the count keeps `isPinned` (and so the collector) at one
 * `has`. Format 2 kept a list of roots per block instead (see datastore-format.ts).
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
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
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
  /**
   * The blocks `root` keeps, from the ref keys written when it was pinned: for a DAG that cannot be walked
   * any more (a block lost on disk). Reads every ref key of every DAG (keyed by block), so only then.
   */
  blocksOf(root: CID): Promise<CID[]>
}

/** What the pins are stored in. */
export interface DagPinsComponents {
  /** A LevelDB datastore: its `db` reads many pinned-block entries at once and writes them in one batch. */
  datastore: Datastore & { db: Pick<Level<string, Uint8Array>, 'getMany' | 'batch' | 'keys'> }
}

/** A stored value read once per group and changed in memory; `dirty` when it must be written. */
interface Slot<T> {
  value: T
  dirty: boolean
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
export const DAG_REF_PREFIX = '/pinery/dag-ref/'

/** Every (block, root) ref key stored, sorted by block: the block's multihash (base36 text) and the root. */
export async function * refKeys (
  db: Pick<Level<string, Uint8Array>, 'keys'>
): AsyncGenerator<{ multihash: string, root: string }> {
  for await (const key of db.keys({ gt: DAG_REF_PREFIX, lt: `${DAG_REF_PREFIX}\xff` })) {
    const cut = key.indexOf('/', DAG_REF_PREFIX.length)
    yield { multihash: key.slice(DAG_REF_PREFIX.length, cut), root: key.slice(cut + 1) }
  }
}

/** A CID of the block whose multihash text (as in a ref key) is `multihash`: blocks are kept by multihash. */
export const refBlockCid = (multihash: string): CID =>
  CID.createV1(raw.code, Digest.decode(base36.decode(multihash)))

/** The ref key of one (block, root) pair: the block's multihash text, then the root as CIDv1 text. */
export const dagRefKey = (multihash: string, root: string): string => `${DAG_REF_PREFIX}${multihash}/${root}`
const EMPTY = new Uint8Array(0)

function pinKey (root: CID): Key {
  return new Key(`${DAG_PREFIX}${root.toV1().toString()}`)
}

/**
 * `base36.encode(bytes)` (multibase `k`, base-x: a `0` per leading zero byte, then the rest as a number),
 * by BigInt: base-x's digit loop was 1.85 of 5.1 CPU-s busy in bench:dag-pins 100x2000 (two encodings per
 * (block, root) pair); this is 0.7 µs a multihash against 2.3 µs. Checked against base36 in dag-pins.test.ts.
 */
export function multihashText (bytes: Uint8Array): string {
  let zeros = 0
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++
  if (zeros === bytes.length) return `k${'0'.repeat(zeros)}`
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset + zeros, bytes.length - zeros).toString('hex')
  return `k${'0'.repeat(zeros)}${BigInt(`0x${hex}`).toString(36)}`
}

/** A block's key: its multihash, so every CID of the same bytes agrees. */
export function pinnedBlockKey (cid: CID): Key {
  return new Key(`${DAG_BLOCK_PREFIX}${multihashText(cid.multihash.bytes)}`)
}

/** A block's count of roots keeping it, as stored under {@link DAG_BLOCK_PREFIX}. */
export function decodeCount (value: Uint8Array): number {
  const count = cborg.decode(value) as unknown
  if (typeof count !== 'number') throw new Error('a pinned-block entry is not a count (datastore format 2?)')
  return count
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
    // Each (block, root) pair is one ref key and touches one count: O(1) whatever the number of
    // roots sharing the block (a list of roots per block cost O(roots) per pair, O(pins² × blocks) in all).
    const counts = new Map<string, Slot<number>>()
    const refs = new Map<string, Slot<boolean>>()
    const touched = changes.map(({ root, blocks }) => {
      const rootText = root.toV1().toString()
      return blocks.map(cid => {
        const mh = multihashText(cid.multihash.bytes)
        const countKey = DAG_BLOCK_PREFIX + mh
        let count = counts.get(countKey)
        if (count == null) { count = { value: 0, dirty: false }; counts.set(countKey, count) }
        const refKey = dagRefKey(mh, rootText)
        let ref = refs.get(refKey)
        if (ref == null) { ref = { value: false, dirty: false }; refs.set(refKey, ref) }
        return { count, ref }
      })
    })
    // One read for the whole group (a get each cost ~50 µs of the main thread under load in bench:many).
    const keys = [...counts.keys(), ...refs.keys()]
    const values = await datastore.db.getMany(keys)
    let i = 0
    for (const count of counts.values()) {
      const value = values[i++]
      if (value != null) count.value = decodeCount(value)
    }
    for (const ref of refs.values()) ref.value = values[i++] != null
    const ops: Array<{ type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }> = []
    changes.forEach(({ root, adding, dagSize }, c) => {
      for (const { count, ref } of touched[c] ?? []) {
        if (adding === ref.value) continue
        ref.value = adding
        ref.dirty = !ref.dirty
        count.value += adding ? 1 : -1
        count.dirty = true
      }
      const key = pinKey(root).toString()
      if (adding) ops.push({ type: 'put', key, value: cborg.encode(dagSize == null ? {} : { dagSize }) })
      else ops.push({ type: 'del', key })
    })
    for (const [key, { value, dirty }] of counts) {
      if (!dirty) continue
      if (value <= 0) ops.push({ type: 'del', key })
      else ops.push({ type: 'put', key, value: cborg.encode(value) })
    }
    for (const [key, { value, dirty }] of refs) {
      if (!dirty) continue
      if (value) ops.push({ type: 'put', key, value: EMPTY })
      else ops.push({ type: 'del', key })
    }
    // An unpin is fsynced: the collector deletes what it frees at once, and a power cut that undid the
    // unpin but not the deletions brought the pin back over missing blocks (answered pinned, never released).
    // A pin needs no fsync of its own: the request's settling write after it is fsynced, in the same log.
    await datastore.db.batch(ops, { sync: changes.some(c => !c.adding) })
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
    },
    async blocksOf (root) {
      const rootText = root.toV1().toString()
      const blocks: CID[] = []
      for await (const ref of refKeys(datastore.db)) if (ref.root === rootText) blocks.push(refBlockCid(ref.multihash))
      return blocks
    }
  }
}
