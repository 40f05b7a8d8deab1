/**
 * The charge a replacement holds for the DAG it replaced survives a restart that rebuilds the
 * query index from the records (no snapshot): the replacement records the held CIDs' sizes
 * (holding()), and the rebuilt index charges them even though the pinned record that named the
 * CID is gone. Before, /usage read 0 bytes after such a restart until the replacement settled.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { openPinCore, type PinCore } from '../fixtures/pin-core.js'
import { holding } from '../../src/pins/lifecycle.js'
import type { PinRecord } from '../../src/pins/types.js'

const cidOf = (i: number): CID => CID.createV1(0x55, identity.digest(new TextEncoder().encode(`held-${i}`)))
const SIZE = 700_158

describe('a held charge across a rebuild of the index', () => {
  let core: PinCore
  beforeEach(async () => { core = await openPinCore() })
  afterEach(async () => { await core.destroy() })

  async function reopen (): Promise<void> {
    await core.close()
    core = await openPinCore({ dir: core.dir })
  }

  async function replace (old: PinRecord, cid: CID): Promise<PinRecord> {
    const next = await core.lifecycle.replace(old.requestid, (o) => holding(o, core.record('alice', cid)))
    if (next == null) throw new Error('replace found nothing')
    return next
  }

  it('keeps the bytes of a pinned DAG replaced by a queued CID, through chained replaces', async () => {
    const pinned = core.record('alice', cidOf(1), { status: 'pinned', dagSize: SIZE })
    await core.lifecycle.create(pinned)
    const first = await replace(pinned, cidOf(2))
    expect(first.holdSizes).toEqual({ [pinned.cidKey]: SIZE })
    expect(core.index.usage('alice')).toMatchObject({ bytes: SIZE, cids: 1 })

    await reopen()
    expect(core.index.usage('alice')).toMatchObject({ bytes: SIZE, cids: 1 })

    // Replaced again while queued: the new one holds the first DAG (sized) and the queued CID (not).
    const second = await replace(first, cidOf(3))
    expect(second.holds?.sort()).toEqual([pinned.cidKey, first.cidKey].sort())
    expect(second.holdSizes).toEqual({ [pinned.cidKey]: SIZE })
    await reopen()
    expect(core.index.usage('alice')).toMatchObject({ bytes: SIZE, cids: 1 })

    // Once it settles it holds nothing: the charge goes, and stays gone after a rebuild.
    const failed = await core.lifecycle.transition(second, 'failed', { failure: 'x' })
    expect(failed?.holds).toBeUndefined()
    expect(failed?.holdSizes).toBeUndefined()
    expect(core.index.usage('alice').bytes).toBe(0)
    await reopen()
    expect(core.index.usage('alice')).toMatchObject({ bytes: 0, cids: 0 })
  })

  it('charges a held CID once while a pinned record also names it, in any order of the rebuild', async () => {
    const a = core.record('alice', cidOf(1), { status: 'pinned', dagSize: SIZE })
    await core.lifecycle.create(a)
    const replacement = await replace(a, cidOf(2))
    // Pinned after the replacement: the rebuild meets the hold first, then this record.
    await core.lifecycle.create(core.record('alice', cidOf(1), { status: 'pinned', dagSize: SIZE }))
    expect(core.index.usage('alice')).toMatchObject({ bytes: SIZE, cids: 1 })
    await reopen()
    expect(core.index.usage('alice')).toMatchObject({ bytes: SIZE, cids: 1 })
    await core.lifecycle.remove(replacement.requestid)
    expect(core.index.usage('alice')).toMatchObject({ bytes: SIZE, cids: 1 })
  })

  it('reads a record written before holdSizes existed (its hold is charged only while a pin names it)', async () => {
    const a = core.record('alice', cidOf(1), { status: 'pinned', dagSize: SIZE })
    await core.lifecycle.create(a)
    const legacy = await core.lifecycle.replace(a.requestid, (o) => {
      const { holdSizes: _, ...rest } = holding(o, core.record('alice', cidOf(2)))
      return rest
    })
    expect(legacy?.holds).toEqual([a.cidKey])
    await reopen()
    expect(core.index.usage('alice')).toMatchObject({ bytes: 0, cids: 0, counts: { queued: 1 } })
    await core.lifecycle.remove(legacy?.requestid as string)
    expect(core.index.size()).toBe(0)
  })
})
