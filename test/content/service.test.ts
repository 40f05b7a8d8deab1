/**
 * The upload service at its seam, over the real pin service, worker, quota,
 * lifecycle, DAG pins, garbage collector and a durable blockstore in a temp
 * dir (its node listens on 127.0.0.1 and has no peers). Uploads are pinned
 * under kubo's CIDs; an upload refused for its size, its content or its
 * request leaves none of its blocks behind; a CAR missing blocks is queued
 * and its blocks kept until the request settles.
 */
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { IdentityBlockstore } from 'blockstore-core/identity'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { blocksOf, carOf, directoryDag, fileDag, splitDag } from '../fixtures/content.js'
import { failure } from '../fixtures/errors.js'
import { getCodec, openPinCore, workerParts, type PinCore } from '../fixtures/pin-core.js'
import { waitFor } from '../fixtures/service.js'
import { createContentService, type ContentServiceHandle } from '../../src/content/service.js'
import { InvalidRequestError } from '../../src/errors.js'
import { createPineryNode, type PineryNode } from '../../src/node/index.js'
import { createPinService } from '../../src/pins/service.js'
import { createPinSettler } from '../../src/pins/settle.js'
import { createPinWorker, type PinWorker } from '../../src/pins/worker.js'
import type { UploadEntry, UploadOptions } from '../../src/content/index.js'
import type { PinRecord, PinService } from '../../src/pins/types.js'
import type { CID } from 'multiformats/cid'

const KIB = 1024

async function * once (bytes: Uint8Array, chunk = 64 * KIB): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += chunk) yield bytes.subarray(i, i + chunk)
}

const options = (extra: Partial<UploadOptions> = {}): UploadOptions =>
  ({ request: () => ({ name: 'upload' }), ...extra })

describe('content service', () => {
  let core: PinCore
  let node: PineryNode
  let worker: PinWorker
  let pins: PinService
  let uploads: ContentServiceHandle

  /** The content service on this test's pin core, adding requests through `through`. */
  const contentOver = (through: PinService): ContentServiceHandle => createContentService({ settlePollMs: 50 }, {
    pins: through,
    blockstore: core.blockstore,
    getCodec,
    guard: core.guard,
    gc: core.gc,
    uploads: core.uploads,
    records: core.records,
    flushBlocks: async (since) => { await core.blockstore.sync(since) },
    syncFailures: () => core.blockstore.syncFailures,
    logger: core.logger
  })

  beforeEach(async () => {
    core = await openPinCore({ limits: { alice: {}, bob: { bytes: 600 * KIB }, carol: { pins: 1 } } })
    node = await createPineryNode({ listen: [multiaddr('/ip4/127.0.0.1/tcp/0')], announce: [] }, {
      blockstore: new IdentityBlockstore(core.blockstore), datastore: core.datastore, logger: core.logger
    })
    const settler = createPinSettler({
      lifecycle: core.lifecycle, quota: core.quota, content: core.content, logger: core.logger
    })
    worker = createPinWorker({ concurrency: 2, stallTimeoutMs: 60_000, fetchConcurrency: 16, rewantAfterMs: 2000 }, {
      jobs: settler,
      ...workerParts(core, node),
      onFailed: () => { core.gc.markDirty() }
    })
    await worker.start()
    const { records, index, lifecycle, quota, content } = core
    pins = createPinService({ records, index, lifecycle, worker, settler, quota, content })
    uploads = contentOver(pins)
  })
  afterEach(async () => {
    uploads.stop()
    await worker.stop()
    await node.stop()
    await core.destroy()
  })

  async function storedOf (cids: CID[]): Promise<CID[]> {
    const held: CID[] = []
    for (const cid of cids) if (await core.blockstore.has(cid)) held.push(cid)
    return held
  }
  /** CAR uploads whose requests are still named as not answered (the next start would undo them). */
  async function unclosed (): Promise<string[]> {
    const ids: string[] = []
    for await (const { id } of core.uploads.unclosed()) ids.push(id)
    return ids
  }
  /** Every block in the blockstore. */
  async function everything (): Promise<string[]> {
    const all: string[] = []
    for await (const { cid } of core.blockstore.getAll()) all.push(cid.toString())
    return all
  }

  it('pins a file under kubo\'s CID with its DAG size, nothing left protected', async () => {
    const bytes = randomBytes(700 * KIB)
    const expected = await fileDag(bytes)
    const blocks = await blocksOf(expected)
    const record = await uploads.addFile('alice', once(bytes), options())
    const pin = { cid: expected.root.toString(), name: 'upload' }
    expect(record).toMatchObject({ owner: 'alice', status: 'pinned', pin })
    expect(record.dagSize).toBe(blocks.reduce((n, b) => n + b.bytes.byteLength, 0))
    expect(await core.dagPins.hasPin(expected.root)).toBe(true)
    expect(await storedOf(blocks.map(b => b.cid))).toHaveLength(blocks.length)
    expect(blocks.filter(b => core.guard.isProtected(b.cid))).toEqual([])
  })

  it('pins files under one directory as kubo -w would', async () => {
    const files = [
      { path: 'a.txt', bytes: randomBytes(10 * KIB) },
      { path: 'sub/b.bin', bytes: randomBytes(300 * KIB) }
    ]
    const expected = await directoryDag(files)
    const entries = (async function * (): AsyncGenerator<UploadEntry> {
      for (const f of files) yield { path: f.path, content: once(f.bytes) }
    })()
    const record = await uploads.addDirectory('alice', entries, options())
    expect(record.pin.cid).toBe(expected.root.toString())
    expect(record.status).toBe('pinned')
  })

  it('refuses a file larger than the room left before reading it', async () => {
    let read = false
    const content = (async function * () { read = true; yield new Uint8Array(1) })()
    await expect(uploads.addFile('bob', content, options({ expectedBytes: 700 * KIB })))
      .rejects.toMatchObject({ name: 'InsufficientFundsError' })
    expect(read).toBe(false)
  })

  it('stops a file that grows past the room left, and leaves none of its blocks', async () => {
    const bytes = randomBytes(900 * KIB)
    const blocks = await blocksOf(await fileDag(bytes))
    await expect(uploads.addFile('bob', once(bytes), options())).rejects.toEqual(failure('InsufficientFundsError'))
    expect(await storedOf(blocks.map(b => b.cid))).toEqual([])
    expect(core.index.usage('bob').counts.pinned).toBe(0)
  })

  it('leaves no block behind when the request asked for after the content is refused', async () => {
    const bytes = randomBytes(300 * KIB)
    const blocks = await blocksOf(await fileDag(bytes))
    const refused = options({ request: () => { throw new InvalidRequestError('meta is not an object') } })
    await expect(uploads.addFile('alice', once(bytes), refused)).rejects.toMatchObject({ name: 'InvalidRequestError' })
    expect(await storedOf(blocks.map(b => b.cid))).toEqual([])
  })

  it('pins every root of a complete CAR, and drops blocks of the CAR that no root reaches', async () => {
    const one = await fileDag(randomBytes(300 * KIB))
    const two = await fileDag(randomBytes(5 * KIB))
    const stray = await fileDag(randomBytes(7 * KIB))
    const blocks = [...await blocksOf(one), ...await blocksOf(two), ...await blocksOf(stray)]
    // One root twice: one request for it.
    const car = await carOf([one.root, two.root, one.root], blocks)
    const created = await uploads.addCar('alice', once(car), options())
    const expected = [[String(one.root), 'pinned'], [String(two.root), 'pinned']]
    expect(created.map(r => [r.pin.cid, r.status])).toEqual(expected)
    expect(await storedOf([stray.root])).toEqual([])
    expect((await everything()).length).toBe(blocks.length - 1)
    expect(await unclosed()).toEqual([])
  })

  it('refuses a CAR with a lying block and leaves none of the blocks it had stored', async () => {
    const dag = await fileDag(randomBytes(600 * KIB))
    const blocks = await blocksOf(dag)
    const bad = [...blocks.slice(0, -1), { cid: blocks[blocks.length - 1]!.cid, bytes: randomBytes(10) }]
    const car = await carOf([dag.root], bad)
    const upload = uploads.addCar('alice', once(car), options())
    await expect(upload).rejects.toEqual(failure('InvalidRequestError', /do not hash/))
    expect(await everything()).toEqual([])
    expect(core.index.size()).toBe(0)
  })

  it('queues the root of a CAR missing blocks, keeps its blocks while it waits, drops them when it goes', async () => {
    const dag = await fileDag(randomBytes(3 * 256 * KIB + 100))
    const blocks = await blocksOf(dag)
    const held = blocks.slice(0, -1)
    const [record] = await uploads.addCar('alice', once(await carOf([dag.root], held)), options())
    expect(record?.status).toBe('queued')
    await core.gc.collect()
    expect(await storedOf(held.map(b => b.cid))).toHaveLength(held.length)
    await pins.remove('alice', record!.requestid)
    // The upload's wait sees the request gone and discards what nothing pins.
    const gone = async (): Promise<true | undefined> =>
      (await storedOf(held.map(b => b.cid))).length === 0 ? true : undefined
    await waitFor(gone, 10_000, 'the blocks to go')
  })

  it('refuses an upload of a user who does not exist', async () => {
    const upload = uploads.addFile('ghost', once(new Uint8Array(10)), options())
    await expect(upload).rejects.toEqual(failure('UnauthorizedError', /does not exist/))
  })

  it('keeps the blocks of a failed CAR upload while a replacement of one of its requests waits', async () => {
    const dag = await splitDag()
    const other = await fileDag(randomBytes(5 * KIB))
    const sent = [...dag.all.filter(b => !b.cid.equals(dag.missing.cid)), ...await blocksOf(other)]
    let replacement: PinRecord | undefined
    // A client replaces the first root's request (it may list it) before the second root is refused.
    const racing: PinService = {
      ...pins,
      add: async (owner, request, opts) => {
        const record = await pins.add(owner, request, opts)
        replacement = await pins.replace(owner, record.requestid, { cid: request.cid, name: 'renamed' })
        return record
      }
    }
    const content = contentOver(racing)
    try {
      const upload = content.addCar('carol', once(await carOf([dag.root, other.root], sent)), options())
      await expect(upload).rejects.toEqual(failure('InsufficientFundsError', /pin limit/))
      expect(replacement?.status).toBe('queued')
      expect(await unclosed()).toEqual([])
      await new Promise(resolve => setTimeout(resolve, 200))
      await core.gc.collect()
      expect(await storedOf(dag.below.map(b => b.cid))).toHaveLength(dag.below.length)
      // Once it goes, so do they.
      await pins.remove('carol', replacement?.requestid ?? '')
      const gone = async (): Promise<true | undefined> =>
        (await storedOf(dag.below.map(b => b.cid))).length === 0 ? true : undefined
      await waitFor(gone, 10_000, 'the blocks to go')
    } finally {
      content.stop()
    }
  })
})
