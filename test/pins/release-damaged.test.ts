/**
 * Releasing a pinned DAG that is no longer whole on disk (a block lost to a disk fault, or a restore from an
 * incomplete backup: what `pinery verify` reports). The release listed the DAG's blocks by walking it, which
 * stops at the missing block, so the DAG stayed pinned for good after its last request was deleted: its
 * blocks were never collected, and a new request for the CID was answered `pinned` at once on content that
 * is not all there. DagPins' own ref keys name its blocks without the walk.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPinCore, type PinCore } from '../fixtures/pin-core.js'

async function cbor (value: unknown): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = dagCbor.encode(value)
  return { cid: CID.createV1(dagCbor.code, await sha256.digest(bytes)), bytes }
}

describe('releasing a damaged DAG', () => {
  let core: PinCore
  beforeAll(async () => { core = await openPinCore() })
  afterAll(async () => { await core.destroy() })

  it('unpins it and every block it kept, though a node between the root and the leaves is gone', async () => {
    const leaves = await Promise.all([1, 2, 3].map(async i => await cbor({ leaf: i, salt: 'release-damaged' })))
    const mid = await cbor({ leaves: leaves.map(l => l.cid) })
    const root = await cbor({ mid: mid.cid })
    const other = await cbor({ shares: leaves[0]?.cid })
    const blocks = [root, mid, ...leaves]
    await core.store([...blocks, other])
    const size = blocks.reduce((n, b) => n + b.bytes.byteLength, 0)
    await core.content.pin(root.cid.toString(), blocks.map(b => b.cid), size)
    await core.content.pin(other.cid.toString(), [other.cid, leaves[0]?.cid as CID], 1)
    await core.blockstore.delete(mid.cid)

    await core.content.release([root.cid.toString()])
    expect(await core.dagPins.hasPin(root.cid)).toBe(false)
    expect(await core.dagPins.isPinned(root.cid)).toBe(false)
    for (const leaf of leaves.slice(1)) expect(await core.dagPins.isPinned(leaf.cid)).toBe(false)
    // A block another pinned DAG keeps stays pinned.
    expect(await core.dagPins.isPinned(leaves[0]?.cid as CID)).toBe(true)
    expect(await core.dagPins.hasPin(other.cid)).toBe(true)
    expect(core.unpinned).toBe(1)
  })
})
