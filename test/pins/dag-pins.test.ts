/**
 * DAG pins on a real LevelDB datastore: blocks shared between DAGs stay
 * pinned while any DAG that has them is, whatever the order of adds and
 * removals (including the sequence that Helia 7's `pins.rm` gets wrong),
 * blocks are found by multihash whatever the CID's version or codec, and
 * pins survive a reopen. Concurrent changes are applied together, none lost.
 * A pin costs the same per block however many pins share it.
 */
import { randomBytes } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { openPinCore, type PinCore } from '../fixtures/pin-core.js'
import { createDagPins, multihashText, pinnedBlockKey, type DagPins } from '../../src/pins/dag-pins.js'

async function rawCid (text: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

/** A made-up DAG: a dag-pb root and its blocks (the pin layer never reads blocks). */
async function dag (name: string, shared: CID[]): Promise<{ root: CID, blocks: CID[] }> {
  const root = CID.createV1(dagPb.code, await sha256.digest(new TextEncoder().encode(`root ${name}`)))
  const own = await Promise.all([1, 2].map(async i => await rawCid(`${name} ${i}`)))
  return { root, blocks: [root, ...own, ...shared] }
}

async function pinnedOf (pins: DagPins, cids: CID[]): Promise<boolean[]> {
  return await Promise.all(cids.map(async c => await pins.isPinned(c)))
}

describe('DAG pins', () => {
  let core: PinCore
  let shared: CID[]
  let a: { root: CID, blocks: CID[] }
  let b: { root: CID, blocks: CID[] }
  beforeEach(async () => {
    core = await openPinCore()
    shared = await Promise.all(['s1', 's2'].map(rawCid))
    a = await dag('a', shared)
    b = await dag('b', shared)
  })
  afterEach(async () => { await core.destroy() })

  it('keeps shared blocks while either DAG is pinned, in both orders of removal', async () => {
    for (const [first, second] of [[a, b], [b, a]] as const) {
      await core.dagPins.add(a.root, a.blocks, 10)
      await core.dagPins.add(b.root, b.blocks, 20)
      await core.dagPins.rm(first.root, first.blocks)
      expect(await pinnedOf(core.dagPins, shared)).toEqual([true, true])
      expect(await pinnedOf(core.dagPins, first.blocks.filter(c => !shared.includes(c)))).toEqual([false, false, false])
      expect(await pinnedOf(core.dagPins, second.blocks)).toEqual(second.blocks.map(() => true))
      await core.dagPins.rm(second.root, second.blocks)
      const all = [...a.blocks, ...b.blocks]
      expect(await pinnedOf(core.dagPins, all)).toEqual(all.map(() => false))
    }
  })

  it('survives remove, re-add, remove of the other DAG (where helia.pins.rm loses the shared blocks)', async () => {
    await core.dagPins.add(a.root, a.blocks, 10)
    await core.dagPins.add(b.root, b.blocks, 20)
    await core.dagPins.rm(b.root, b.blocks)
    await core.dagPins.add(b.root, b.blocks, 20)
    await core.dagPins.rm(a.root, a.blocks)
    // B is pinned: every block of it, the shared ones included, must stay.
    expect(await core.dagPins.hasPin(b.root)).toBe(true)
    expect(await pinnedOf(core.dagPins, b.blocks)).toEqual(b.blocks.map(() => true))
    await core.dagPins.rm(b.root, b.blocks)
    expect(await pinnedOf(core.dagPins, shared)).toEqual([false, false])
  })

  it('counts a root added twice once, and ignores the removal of a root never added', async () => {
    await core.dagPins.add(a.root, a.blocks, 10)
    await core.dagPins.add(a.root, a.blocks, 10)
    await core.dagPins.rm(b.root, b.blocks)
    expect(await pinnedOf(core.dagPins, shared)).toEqual([true, true])
    await core.dagPins.rm(a.root, a.blocks)
    expect(await pinnedOf(core.dagPins, a.blocks)).toEqual(a.blocks.map(() => false))
  })

  it('finds a block by multihash whatever the CID version or codec', async () => {
    const v0 = CID.createV0((await sha256.digest(new TextEncoder().encode('a pb node'))))
    await core.dagPins.add(v0, [v0], 7)
    const v1 = v0.toV1()
    const asRaw = CID.createV1(raw.code, v0.multihash)
    expect(await pinnedOf(core.dagPins, [v0, v1, asRaw])).toEqual([true, true, true])
    expect(await core.dagPins.hasPin(v1)).toBe(true)
    expect(await core.dagPins.dagSize(v1)).toBe(7)
    // Pinned as v0, unpinned as v1: the same pin.
    await core.dagPins.rm(v1, [v1])
    expect(await pinnedOf(core.dagPins, [v0, v1, asRaw])).toEqual([false, false, false])
    expect(await core.dagPins.hasPin(v0)).toBe(false)
  })

  it('tells a pinned root from a block of another pin, and lists roots', async () => {
    await core.dagPins.add(a.root, a.blocks, 10)
    expect(await core.dagPins.hasPin(a.root)).toBe(true)
    expect(await core.dagPins.hasPin(shared[0] as CID)).toBe(false)
    expect(await core.dagPins.dagSize(shared[0] as CID)).toBeUndefined()
    const roots: string[] = []
    for await (const root of core.dagPins.ls()) roots.push(root.toString())
    expect(roots).toEqual([a.root.toString()])
  })

  it('honours an aborted signal in isPinned', async () => {
    const signal = AbortSignal.abort()
    await expect(core.dagPins.isPinned(a.root, { signal })).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('ends concurrent adds and removals of DAGs sharing blocks as their last operations say', async () => {
    const dags = await Promise.all(['c', 'd', 'e', 'f'].map(async n => await dag(n, shared)))
    await Promise.all(dags.map(async d => { await core.dagPins.add(d.root, d.blocks, 1) }))
    // Remove all but the last, while re-adding the first: every update of the shared entries interleaves.
    await Promise.all([
      ...dags.slice(0, 3).map(async d => { await core.dagPins.rm(d.root, d.blocks) }),
      (async () => { await core.dagPins.add(dags[0]!.root, dags[0]!.blocks, 1) })()
    ])
    const live = [dags[0]!, dags[3]!]
    for (const d of live) expect(await pinnedOf(core.dagPins, d.blocks)).toEqual(d.blocks.map(() => true))
    for (const d of live) await core.dagPins.rm(d.root, d.blocks)
    expect(await pinnedOf(core.dagPins, shared)).toEqual([false, false])
  })

  it('applies concurrent changes together, in fewer LevelDB writes, losing none of a shared entry', async () => {
    const dags = await Promise.all(Array.from({ length: 30 }, async (_, i) => await dag(`g${i}`, shared)))
    const batch = vi.spyOn(core.datastore.db, 'batch')
    // Each resolves only once its own pin is written.
    await Promise.all(dags.map(async d => {
      await core.dagPins.add(d.root, d.blocks, 1)
      expect(await core.datastore.has(pinnedBlockKey(d.root))).toBe(true)
    }))
    expect(batch.mock.calls.length).toBeLessThan(10)
    batch.mockRestore()
    // Every DAG is counted on the shared blocks: removing all but one keeps them.
    await Promise.all(dags.slice(1).map(async d => { await core.dagPins.rm(d.root, d.blocks) }))
    expect(await pinnedOf(core.dagPins, shared)).toEqual([true, true])
    await core.dagPins.rm(dags[0]!.root, dags[0]!.blocks)
    expect(await pinnedOf(core.dagPins, shared)).toEqual([false, false])
  })

  it('reads and stores as much per shared block for the 40th DAG sharing it as for the 2nd', async () => {
    // A list of roots per block made every pin read and rewrite the list of every block it shares:
    // O(pins² × blocks) over a site built again and again. Counted in bytes read, not timed.
    const db = core.datastore.db
    let read = 0
    const counting = new Proxy(db, {
      get (target, prop) {
        if (prop === 'getMany') {
          return async (keys: string[]) => {
            const values = await target.getMany(keys)
            for (const value of values) read += value?.byteLength ?? 0
            return values
          }
        }
        const value = Reflect.get(target, prop, target) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
    const datastore = Object.assign(Object.create(core.datastore) as typeof core.datastore, { db: counting })
    const pins = await createDagPins({ datastore })
    const many = await Promise.all(Array.from({ length: 50 }, async () => await rawCid(`many ${Math.random()}`)))
    const dags = await Promise.all(Array.from({ length: 40 }, async (_, i) => await dag(`h${i}`, many)))
    const readPerAdd: number[] = []
    for (const d of dags) {
      read = 0
      await pins.add(d.root, d.blocks, 1)
      readPerAdd.push(read)
    }
    expect(readPerAdd[1]).toBeGreaterThan(0)
    expect(readPerAdd[39]).toBeLessThanOrEqual(3 * (readPerAdd[1] ?? 0))
    const stored = await core.datastore.get(pinnedBlockKey(many[0] as CID))
    expect(stored.byteLength).toBeLessThanOrEqual(9)
    expect(await pinnedOf(pins, many)).toEqual(many.map(() => true))
    for (const d of dags) await pins.rm(d.root, d.blocks)
    expect(await pinnedOf(pins, many)).toEqual(many.map(() => false))
  })

  it('names a block by its multihash in base36 exactly as multiformats does, leading zero bytes included', () => {
    const samples = [new Uint8Array(0), new Uint8Array(3), Uint8Array.of(0, 0, 1), Uint8Array.of(0, 4, 0, 0)]
    for (let i = 0; i < 500; i++) {
      const bytes = new Uint8Array(randomBytes(1 + (i % 40)))
      bytes.fill(0, 0, i % 4) // identity multihashes start with a zero byte
      samples.push(bytes, bytes.subarray(i % 3))
    }
    for (const bytes of samples) expect(multihashText(bytes)).toBe(base36.encode(bytes))
  })

  it('loads its pins and sizes again after a reopen', async () => {
    await core.dagPins.add(a.root, a.blocks, 10)
    await core.dagPins.add(b.root, b.blocks, 20)
    await core.dagPins.rm(a.root, a.blocks)
    await core.close()
    core = await openPinCore({ dir: core.dir })
    expect(await core.dagPins.hasPin(a.root)).toBe(false)
    expect(await core.dagPins.dagSize(b.root)).toBe(20)
    expect(await pinnedOf(core.dagPins, b.blocks)).toEqual(b.blocks.map(() => true))
    await core.dagPins.rm(b.root, b.blocks)
    expect(await pinnedOf(core.dagPins, b.blocks)).toEqual(b.blocks.map(() => false))
  })
})
