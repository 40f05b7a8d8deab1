/**
 * The pin worker at its seam: it runs fetches and reports each outcome to
 * its jobs (here the real settler, observed). Real pin core (LevelDB,
 * durable blockstore, DAG pins, lifecycle, quotas), a real libp2p node of its
 * own on 127.0.0.1, and real Helia origins holding the DAGs. It fetches DAGs
 * (one fetch per CID however many requests want it) and reports their blocks
 * and bytes, reports stalled fetches and those that outgrow the limit their
 * jobs set, reports nothing for a request cancelled mid-fetch, leaves
 * requests pending when stopped and resumes them on start, protecting what
 * they have stored from garbage collection from the start on. Settling a DAG
 * pinned already needs no worker: the settler does it at admission.
 */
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { IdentityBlockstore } from 'blockstore-core/identity'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { blocksOf, fileDag } from '../fixtures/content.js'
import { blocksIn, dagSizeIn, startOrigin, type Origin } from '../fixtures/origin.js'
import { openPinCore, workerParts, type PinCore } from '../fixtures/pin-core.js'
import { waitFor } from '../fixtures/service.js'
import { createMetrics, type Metrics } from '../../src/metrics.js'
import { createPineryNode, type PineryNode } from '../../src/node/index.js'
import { createPinSettler, type PinSettler } from '../../src/pins/settle.js'
import { createPinWorker, type FetchOutcome, type PinWorker, type PinWorkerInit } from '../../src/pins/worker.js'
import type { PinRecord } from '../../src/pins/types.js'

const MIB = 1024 * 1024

/** A CID nobody has: a fetch of it stalls. */
async function unobtainable (): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(randomBytes(32)))
}

describe('pin worker', () => {
  let core: PinCore
  let node: PineryNode
  let origin: Origin
  let worker: PinWorker | undefined
  let metrics: Metrics
  let failedFetches: number
  let settler: PinSettler
  /** Every outcome the worker reported, by request. */
  let outcomes: Map<string, FetchOutcome>

  beforeEach(async () => {
    core = await openPinCore({ limits: { alice: {}, bob: {} } })
    node = await createPineryNode({ listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], announce: [] }, {
      blockstore: new IdentityBlockstore(core.blockstore), datastore: core.datastore, logger: core.logger
    })
    origin = await startOrigin()
    metrics = createMetrics()
    failedFetches = 0
    settler = createPinSettler({
      lifecycle: core.lifecycle, quota: core.quota, content: core.content, logger: core.logger
    })
    outcomes = new Map()
  })
  afterEach(async () => {
    await worker?.stop()
    worker = undefined
    await node.stop()
    await origin.stop()
    await core.destroy()
  })

  function startWorker (init: Partial<PinWorkerInit> = {}): PinWorker {
    const settings = { concurrency: 4, stallTimeoutMs: 30_000, fetchConcurrency: 32, rewantAfterMs: 2000, ...init }
    worker = createPinWorker(settings, {
      jobs: {
        maxBytes: async (record) => await settler.maxBytes(record),
        fetching: (record) => { settler.fetching(record) },
        settle: async (record, outcome) => {
          outcomes.set(record.requestid, outcome)
          return await settler.settle(record, outcome)
        }
      },
      ...workerParts(core, node),
      onFailed: () => { failedFetches++ },
      metrics
    })
    return worker
  }

  /** Creates a queued record as the pin service does, and hands it to the settler or, to fetch it, the worker. */
  async function request (owner: string, cid: CID, withOrigins = true): Promise<PinRecord> {
    const record = core.record(owner, cid, withOrigins ? { pin: { cid: cid.toString(), origins: origin.addrs } } : {})
    await core.lifecycle.create(record)
    const settled = await settler.settlePinned(record)
    if (settled != null) return settled
    ;(worker as PinWorker).enqueue(record)
    return record
  }

  const settled = async (requestid: string): Promise<PinRecord> => await waitFor(async () => {
    const r = await core.records.get(requestid)
    return r?.status === 'pinned' || r?.status === 'failed' ? r : undefined
  }, 30_000, `${requestid} settled`)

  const counter = async (name: string): Promise<number> =>
    (await metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value ?? 0

  it('fetches a DAG from its origins and pins it, blocks stored and no longer protected', async () => {
    const { cid } = await origin.addRandomFile(1)
    const blocks = await blocksIn(origin.blockstore)
    const w = startWorker()
    await w.start()
    const record = await request('alice', cid)
    expect(record.status).toBe('queued')
    const done = await settled(record.requestid)
    expect(done).toMatchObject({ status: 'pinned', dagSize: await dagSizeIn(origin.blockstore) })
    expect(await core.dagPins.hasPin(cid)).toBe(true)
    expect(await Promise.all(blocks.map(async c => await core.blockstore.has(c)))).toEqual(blocks.map(() => true))
    expect(blocks.filter(c => core.guard.isProtected(c))).toEqual([])
    expect(w.stats()).toEqual({ depth: 0, active: 0 })
    expect(failedFetches).toBe(0)
    const outcome = outcomes.get(record.requestid) as { blocks: CID[], bytes: number }
    expect(outcome.bytes).toBe(await dagSizeIn(origin.blockstore))
    // The origin's blockstore knows blocks by multihash only.
    const hashes = (cids: CID[]): string[] => cids.map(c => Buffer.from(c.multihash.bytes).toString('hex')).sort()
    expect(hashes(outcome.blocks)).toEqual(hashes(blocks))
  })

  it('is not needed for a request for a DAG pinned already: the settler settles it at admission', async () => {
    const w = startWorker()
    await w.start()
    const cid = await unobtainable()
    await core.dagPins.add(cid, [cid], 1234)
    const record = await request('alice', cid, false)
    expect(record).toMatchObject({ status: 'pinned', dagSize: 1234 })
    expect(w.stats()).toEqual({ depth: 0, active: 0 })
    expect(await counter('pinery_pins_started_total')).toBe(0)
  })

  it('fails at admission a DAG pinned already that does not fit the owner\'s quota', async () => {
    core.limits.set('alice', { bytes: 1000 })
    const w = startWorker()
    await w.start()
    const cid = await unobtainable()
    await core.dagPins.add(cid, [cid], 5000)
    const record = await request('alice', cid, false)
    expect(record.status).toBe('failed')
    expect(record.failure).toMatch(/^storage quota exceeded/)
  })

  it('shares one fetch between requests for the same CID', async () => {
    const { cid } = await origin.addRandomFile(2)
    const blocks = await blocksIn(origin.blockstore)
    const w = startWorker()
    await w.start()
    const records = await Promise.all([request('alice', cid), request('bob', cid), request('alice', cid)])
    const done = await Promise.all(records.map(async r => await settled(r.requestid)))
    expect(done.map(r => r.status)).toEqual(['pinned', 'pinned', 'pinned'])
    expect(await counter('pinery_fetched_blocks_total')).toBe(blocks.length)
  })

  it('fails a fetch that receives no block for the stall timeout', async () => {
    const w = startWorker({ stallTimeoutMs: 300 })
    await w.start()
    const record = await request('alice', await unobtainable())
    const done = await settled(record.requestid)
    expect(done.status).toBe('failed')
    expect(done.failure).toMatch(/^no progress for 300 ms/)
    expect(outcomes.get(record.requestid)).toEqual({ failure: done.failure })
    // Told once settle() has returned, which is after the failed record is written (and maybe read above).
    await waitFor(async () => failedFetches > 0 ? true : undefined, 5000, 'onFailed')
    expect(failedFetches).toBe(1)
  })

  it('fails only the request whose owner\'s quota the DAG outgrows; the other sharing the fetch pins', async () => {
    core.limits.set('alice', { bytes: MIB })
    const { cid } = await origin.addRandomFile(2)
    const w = startWorker()
    await w.start()
    const [mine, theirs] = await Promise.all([request('alice', cid), request('bob', cid)])
    const [a, b] = await Promise.all([settled(mine!.requestid), settled(theirs!.requestid)])
    expect(a.status).toBe('failed')
    expect(a.failure).toMatch(/^storage quota exceeded: the DAG grew past the 1 MiB \(1,048,576 bytes\) left/)
    expect(outcomes.get(a.requestid)).toEqual({ failure: a.failure })
    expect(b.status).toBe('pinned')
  })

  it('reports a job whose limit cannot be had (its owner is gone) as a failed fetch', async () => {
    const w = startWorker()
    await w.start()
    const record = await request('carol', await unobtainable())
    const done = await settled(record.requestid)
    expect(done.failure).toBe('fetch failed: user carol does not exist (any more)')
    expect(outcomes.get(record.requestid)).toEqual({ failure: done.failure })
  })

  it('drops a request cancelled mid-fetch without settling it, and reports the abandoned fetch', async () => {
    const w = startWorker({ stallTimeoutMs: 60_000 })
    await w.start()
    const record = await request('alice', await unobtainable())
    await waitFor(async () => w.stats().active === 1 ? true : undefined, 5000, 'the fetch to start')
    expect(await core.lifecycle.remove(record.requestid)).toBeDefined()
    w.cancel(record.requestid)
    await waitFor(async () => w.stats().active === 0 && failedFetches === 1 ? true : undefined, 5000, 'the job to end')
    expect(await core.records.get(record.requestid)).toBeUndefined()
    expect(outcomes.has(record.requestid)).toBe(false)
    expect(await counter('pinery_pins_finished_total')).toBe(0)
  })

  it('reports queue positions and progress, oldest first', async () => {
    const w = startWorker({ concurrency: 1, stallTimeoutMs: 60_000 })
    await w.start()
    const blocker = await request('alice', await unobtainable())
    const second = await request('alice', await unobtainable())
    const third = await request('alice', await unobtainable())
    await waitFor(async () => w.stats().active === 1 ? true : undefined, 5000, 'the first fetch to start')
    // While no block came, what became of the request's origin too (the origin has none of these blocks).
    expect(w.progress(blocker.requestid)).toMatchObject({ blocks: 0, bytes: 0 })
    expect(w.origins(blocker.requestid))
      .toMatch(/^origin (\/ip4\/.*|peer \S+): (dialing|connected, no block from it yet)$/)
    expect(w.position(blocker.requestid)).toBeUndefined()
    expect(w.position(second.requestid)).toEqual({ position: 1, length: 2 })
    expect(w.position(third.requestid)).toEqual({ position: 2, length: 2 })
    w.cancel(second.requestid)
    expect(w.position(third.requestid)).toEqual({ position: 1, length: 1 })
    expect(w.stats()).toEqual({ depth: 1, active: 1 })
  })

  it('reads a resumed record as its job starts: a request deleted while it waited is not fetched', async () => {
    // Left pending by a previous run: resumed, the queue holds their ids only.
    const blocker = core.record('alice', await unobtainable())
    await core.lifecycle.create(blocker)
    const { cid } = await origin.addRandomFile(1)
    const waiting = core.record('alice', cid, { pin: { cid: cid.toString(), origins: origin.addrs } })
    await core.lifecycle.create(waiting)
    const w = startWorker({ concurrency: 1, stallTimeoutMs: 60_000 })
    await w.start()
    await waitFor(async () => w.stats().active === 1 ? true : undefined, 5000, 'the first fetch to start')
    expect(w.position(waiting.requestid)).toEqual({ position: 1, length: 1 })
    // Gone from the store without the cancel the service sends (a race it may lose).
    await core.lifecycle.remove(waiting.requestid)
    w.cancel(blocker.requestid)
    await waitFor(async () => w.stats().active === 0 && w.stats().depth === 0 ? true : undefined,
      5000, 'the queue to drain')
    expect(outcomes.has(waiting.requestid)).toBe(false)
    expect(await counter('pinery_pins_started_total')).toBe(1)
    expect(await core.dagPins.hasPin(cid)).toBe(false)
  })

  it('queues a request once however often it is handed over, and not while it runs', async () => {
    const w = startWorker({ concurrency: 1, stallTimeoutMs: 60_000 })
    await w.start()
    const running = await request('alice', await unobtainable())
    await waitFor(async () => w.stats().active === 1 ? true : undefined, 5000, 'the first fetch to start')
    const waiting = await request('alice', await unobtainable())
    w.enqueue(running)
    w.enqueue(waiting)
    w.enqueue(waiting)
    expect(w.stats()).toEqual({ depth: 1, active: 1 })
    expect(w.position(waiting.requestid)).toEqual({ position: 1, length: 1 })
  })

  it('leaves requests pending when stopped, and resumes them oldest first on start', async () => {
    const { cid } = await origin.addRandomFile(1)
    const w = startWorker({ concurrency: 1, stallTimeoutMs: 60_000 })
    await w.start()
    const blocker = await request('alice', await unobtainable(), false)
    const waiting = await request('alice', cid)
    await w.stop()
    expect((await core.records.get(blocker.requestid))?.status).toMatch(/^(queued|pinning)$/)
    expect((await core.records.get(waiting.requestid))?.status).toBe('queued')
    // The blocker is gone by the restart; the waiting request resumes from its record alone.
    await core.lifecycle.remove(blocker.requestid)
    const again = startWorker({ concurrency: 1 })
    await again.start()
    expect((await settled(waiting.requestid)).status).toBe('pinned')
  })

  it('protects from start on what a resumed request has stored, until its job ends', async () => {
    // A request left by a previous run: most of its DAG stored, one leaf nobody can send.
    const dag = await fileDag(randomBytes(3 * 256 * 1024 + 100))
    const blocks = await blocksOf(dag)
    const stored = blocks.slice(0, -1)
    await core.store(stored)
    const record = core.record('alice', dag.root)
    await core.lifecycle.create(record)
    const w = startWorker({ stallTimeoutMs: 60_000 })
    await w.start()
    expect(stored.filter(b => !core.guard.isProtected(b.cid))).toEqual([])
    expect(await core.gc.collect()).toBe(0)
    w.cancel(record.requestid)
    await waitFor(async () => w.stats().active === 0 ? true : undefined, 5000, 'the job to end')
    expect(stored.filter(b => core.guard.isProtected(b.cid))).toEqual([])
    expect(await core.gc.collect()).toBe(stored.length)
  })
})
