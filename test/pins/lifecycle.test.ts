/**
 * The lifecycle at its own seam, over a real record store (LevelDB), index
 * and content pins: which transitions it allows, that a refused one changes
 * nothing, and that replace, remove and settling release exactly the CIDs
 * no live request references any more.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { blocksOf, fileDag } from '../fixtures/content.js'
import { openPinCore, type PinCore } from '../fixtures/pin-core.js'
import { canonicalCidKey } from '../../src/pins/request-pins.js'
import { PIN_STATES, type PinRecord, type PinState } from '../../src/pins/types.js'
import type { CID } from 'multiformats/cid'

/** A stored, pinned DAG of a few blocks. */
async function pinnedDag (core: PinCore): Promise<CID> {
  const dag = await fileDag(randomBytes(300 * 1024))
  const blocks = await blocksOf(dag)
  await core.store(blocks)
  const dagSize = blocks.reduce((n, b) => n + b.bytes.byteLength, 0)
  await core.content.pin(canonicalCidKey(dag.root), blocks.map(b => b.cid), dagSize)
  return dag.root
}

describe('pin lifecycle', () => {
  let core: PinCore
  beforeEach(async () => { core = await openPinCore() })
  afterEach(async () => { await core.destroy() })

  // Every pair of states: the spec's lifecycle only moves forward, and settled states are final.
  const allowed = new Set(['queued>pinning', 'queued>pinned', 'queued>failed', 'pinning>pinned', 'pinning>failed'])
  for (const from of PIN_STATES) {
    for (const to of PIN_STATES) {
      const ok = allowed.has(`${from}>${to}`)
      it(`${ok ? 'allows' : 'refuses'} ${from} → ${to}`, async () => {
        const cid = await pinnedDag(core)
        const record = core.record('alice', cid, { status: from, ...(from === 'pinned' ? { dagSize: 1 } : {}) })
        await core.lifecycle.create(record)
        const next = await core.lifecycle.transition(record, to, to === 'failed' ? { failure: 'no' } : {})
        const stored = await core.records.get(record.requestid)
        if (ok) {
          expect(next).toMatchObject({ requestid: record.requestid, status: to })
          expect(stored?.status).toBe(to)
        } else {
          expect(next).toBeUndefined()
          expect(stored).toEqual(record)
        }
        expect(core.index.statusOf(record)).toBe(stored?.status)
      })
    }
  }

  it('answers undefined for a record that is gone, and creates nothing', async () => {
    const cid = await pinnedDag(core)
    const record = core.record('alice', cid)
    await core.lifecycle.create(record)
    expect(await core.lifecycle.remove(record.requestid)).toEqual(record)
    expect(await core.lifecycle.remove(record.requestid)).toBeUndefined()
    expect(await core.lifecycle.transition(record, 'pinned', { dagSize: 1 })).toBeUndefined()
    expect(await core.lifecycle.replace(record.requestid, old => ({ ...old }))).toBeUndefined()
    expect(await core.records.get(record.requestid)).toBeUndefined()
    expect(core.index.size()).toBe(0)
  })

  it('checks a transition against the stored status, not the caller\'s stale copy', async () => {
    const cid = await pinnedDag(core)
    const record = core.record('alice', cid)
    await core.lifecycle.create(record)
    const failed = await core.lifecycle.transition(record, 'failed', { failure: 'stalled' })
    expect(failed).toMatchObject({ status: 'failed' })
    // The caller still holds the queued copy: pinned after failed is refused all the same.
    expect(await core.lifecycle.transition(record, 'pinned', { dagSize: 5 })).toBeUndefined()
    expect(await core.records.get(record.requestid)).toMatchObject({ status: 'failed', failure: 'stalled' })
  })

  it('unpins a CID when its last request is removed, not before', async () => {
    const cid = await pinnedDag(core)
    const a = core.record('alice', cid, { status: 'pinned', dagSize: 1 })
    const b = core.record('bob', cid, { status: 'pinned', dagSize: 1 })
    await core.lifecycle.create(a)
    await core.lifecycle.create(b)
    await core.lifecycle.remove(a.requestid)
    expect(await core.dagPins.hasPin(cid)).toBe(true)
    expect(core.unpinned).toBe(0)
    await core.lifecycle.remove(b.requestid)
    expect(await core.dagPins.hasPin(cid)).toBe(false)
    expect(core.unpinned).toBe(1)
  })

  it('releases the CID of a request that fails, since a failed request keeps nothing', async () => {
    const cid = await pinnedDag(core)
    const record = core.record('alice', cid)
    await core.lifecycle.create(record)
    await core.lifecycle.transition(record, 'failed', { failure: 'quota' })
    expect(await core.dagPins.hasPin(cid)).toBe(false)
    expect(await core.records.isReferenced(canonicalCidKey(cid))).toBe(false)
  })

  it('keeps what a replaced request pinned while its replacement holds it, releasing it at settle', async () => {
    const old = await pinnedDag(core)
    const next = await pinnedDag(core)
    const first = core.record('alice', old, { status: 'pinned', dagSize: 1 })
    await core.lifecycle.create(first)
    const build = (o: PinRecord): PinRecord => core.record('alice', next, { holds: [o.cidKey] })
    const replacement = await core.lifecycle.replace(first.requestid, build)
    expect(replacement).toMatchObject({ cidKey: canonicalCidKey(next), holds: [canonicalCidKey(old)] })
    expect(await core.records.get(first.requestid)).toBeUndefined()
    expect(await core.dagPins.hasPin(old)).toBe(true)
    const settled = await core.lifecycle.transition(replacement as PinRecord, 'pinned', { dagSize: 2 })
    expect(settled).not.toHaveProperty('holds')
    expect(await core.dagPins.hasPin(old)).toBe(false)
    expect(await core.dagPins.hasPin(next)).toBe(true)
  })

  it('releases a replaced CID at once when the replacement does not hold it', async () => {
    const old = await pinnedDag(core)
    const next = await pinnedDag(core)
    const first = core.record('alice', old, { status: 'pinned', dagSize: 1 })
    await core.lifecycle.create(first)
    await core.lifecycle.replace(first.requestid, () => core.record('alice', next))
    expect(await core.dagPins.hasPin(old)).toBe(false)
    expect(await core.dagPins.hasPin(next)).toBe(true)
  })

  it('serialises changes to one request: concurrent settles leave one winner', async () => {
    const cid = await pinnedDag(core)
    const record = core.record('alice', cid, { status: 'pinning' })
    await core.lifecycle.create(record)
    const outcomes = await Promise.all([
      core.lifecycle.transition(record, 'pinned', { dagSize: 9 }),
      core.lifecycle.transition(record, 'failed', { failure: 'late' })
    ])
    // The first call queued on the lock wins; the other sees a settled record and is refused.
    expect(outcomes.map(o => o?.status)).toEqual(['pinned', undefined])
    expect((await core.records.get(record.requestid))?.status satisfies PinState | undefined).toBe('pinned')
    expect(await core.dagPins.hasPin(cid)).toBe(true)
  })
})
