/**
 * The settler at its own seam, over the real pin core (LevelDB records,
 * durable blockstore, DAG pins, lifecycle, quotas) and no network: what a
 * fetch's outcome means. A fetched DAG is pinned when it fits the owner's
 * quota and failed when it does not; a failure is recorded as given; a DAG
 * fetched for a request deleted meanwhile is let go again; a fetch's limit is
 * what is left of the owner's quota; only a queued request is marked pinning.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { blocksOf, fileDag } from '../fixtures/content.js'
import { openPinCore, type PinCore } from '../fixtures/pin-core.js'
import { waitFor } from '../fixtures/service.js'
import { createPinSettler, type PinSettler } from '../../src/pins/settle.js'
import type { PinRecord } from '../../src/pins/types.js'
import type { CID } from 'multiformats/cid'

/** A DAG stored locally, as a finished fetch leaves it. */
async function fetchedDag (core: PinCore): Promise<{ root: CID, blocks: CID[], bytes: number }> {
  const dag = await fileDag(randomBytes(300 * 1024))
  const blocks = await blocksOf(dag)
  await core.store(blocks)
  return { root: dag.root, blocks: blocks.map(b => b.cid), bytes: blocks.reduce((n, b) => n + b.bytes.byteLength, 0) }
}

describe('pin settler', () => {
  let core: PinCore
  let settler: PinSettler
  beforeEach(async () => {
    core = await openPinCore({ limits: { alice: {} } })
    const { lifecycle, quota, content, logger } = core
    settler = createPinSettler({ lifecycle, quota, content, logger })
  })
  afterEach(async () => { await core.destroy() })

  async function queued (owner: string, cid: CID): Promise<PinRecord> {
    const record = core.record(owner, cid)
    await core.lifecycle.create(record)
    return record
  }

  it('pins a fetched DAG and settles its request pinned with its size', async () => {
    const dag = await fetchedDag(core)
    const record = await queued('alice', dag.root)
    expect(await settler.settle(record, { blocks: dag.blocks, bytes: dag.bytes })).toBe('pinned')
    expect(await core.records.get(record.requestid)).toMatchObject({ status: 'pinned', dagSize: dag.bytes })
    expect(await core.dagPins.hasPin(dag.root)).toBe(true)
  })

  it('fails a fetched DAG that no longer fits the owner\'s quota when it settles, and pins nothing', async () => {
    core.limits.set('alice', { bytes: 1000 })
    const dag = await fetchedDag(core)
    const record = await queued('alice', dag.root)
    expect(await settler.settle(record, { blocks: dag.blocks, bytes: dag.bytes })).toBe('failed')
    const stored = await core.records.get(record.requestid)
    expect(stored?.status).toBe('failed')
    expect(stored?.failure)
      .toMatch(/^storage quota exceeded: the DAG of [\d.]+ KiB \([\d,]+ bytes\) does not fit in the 1,000 bytes/)
    expect(await core.dagPins.hasPin(dag.root)).toBe(false)
  })

  it('records a failed fetch with the reason the worker gave', async () => {
    const dag = await fetchedDag(core)
    const record = await queued('alice', dag.root)
    expect(await settler.settle(record, { failure: 'no progress for 5 ms' })).toBe('failed')
    const stored = await core.records.get(record.requestid)
    expect(stored).toMatchObject({ status: 'failed', failure: 'no progress for 5 ms' })
  })

  it('lets go of a DAG fetched for a request deleted meanwhile', async () => {
    const dag = await fetchedDag(core)
    const record = await queued('alice', dag.root)
    await core.lifecycle.remove(record.requestid)
    expect(await settler.settle(record, { blocks: dag.blocks, bytes: dag.bytes })).toBe('pinned')
    expect(await core.records.get(record.requestid)).toBeUndefined()
    expect(await core.dagPins.hasPin(dag.root)).toBe(false)
  })

  it('limits a fetch to what is left of its owner\'s quota, counting what the request holds as free', async () => {
    const held = await fetchedDag(core)
    const first = await queued('alice', held.root)
    await settler.settle(first, { blocks: held.blocks, bytes: held.bytes })
    const next = (await fetchedDag(core)).root
    expect(await settler.maxBytes(await queued('alice', next))).toBe(Infinity)
    core.limits.set('alice', { bytes: held.bytes + 1000 })
    expect(await settler.maxBytes(await queued('alice', next))).toBe(1000)
    const replacing = core.record('alice', next, { holds: [first.cidKey] })
    expect(await settler.maxBytes(replacing)).toBe(1000 + held.bytes)
  })

  it('marks a queued request pinning while it is fetched, and no other', async () => {
    const dag = await fetchedDag(core)
    const record = await queued('alice', dag.root)
    settler.fetching(record)
    const status = async (r: PinRecord): Promise<string | undefined> => (await core.records.get(r.requestid))?.status
    await waitFor(async () => await status(record) === 'pinning' ? true : undefined, 5000, 'pinning')
    const failed = await queued('alice', dag.root)
    await settler.settle(failed, { failure: 'gone' })
    settler.fetching({ ...failed, status: 'failed' })
    settler.fetching(failed)
    // A move the lifecycle refuses changes nothing (failed is final).
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(await status(failed)).toBe('failed')
  })
})
