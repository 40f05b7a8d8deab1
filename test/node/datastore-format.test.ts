/**
 * Data dirs written before the datastore had a format version keep working:
 * start-up moves DAG pins from Helia's layout into Pinery's own keys, and
 * format 2's lists of roots per block into ref keys and counts (format 3),
 * also when an earlier attempt was cut short at any batch.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { Writable } from 'node:stream'
import * as cborg from 'cborg'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.js'
import { DATASTORE_FORMAT, migrateDatastore } from '../../src/node/datastore-format.js'
import { openDatastore } from '../../src/node/storage.js'
import { createDagPins, decodeCount, pinnedBlockKey } from '../../src/pins/dag-pins.js'
import { startService, type TestService } from '../fixtures/service.js'

const TARBALL = fileURLToPath(new URL('../fixtures/datadir-v1/datadir-v1.tar.gz', import.meta.url))
const V1_ADMIN = 'pinery_v1-admin-token'
const logger = createLogger({ level: 'silent' })

interface Status { requestid: string, status: string, pin: { cid: string, name?: string } }

/** A fresh copy of the data dir made by the build before format versions (see make.sh beside it). */
async function extractV1 (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pinery-v1-'))
  await promisify(execFile)('tar', ['-C', dir, '-xzf', TARBALL])
  return join(dir, 'data')
}

async function keysUnder (dataDir: string, prefix: string): Promise<string[]> {
  const datastore = await openDatastore(dataDir)
  try {
    const keys: string[] = []
    for await (const key of datastore.db.keys({ gte: prefix, lt: `${prefix}\xff` })) keys.push(key)
    return keys
  } finally {
    await datastore.close()
  }
}

/** Each pinned block's count, checked against its ref keys: `mh → count`. */
async function countsMatchingRefs (dataDir: string): Promise<Map<string, number>> {
  const datastore = await openDatastore(dataDir)
  try {
    const refs = new Map<string, number>()
    for await (const key of datastore.db.keys({ gte: '/pinery/dag-ref/', lt: '/pinery/dag-ref/\xff' })) {
      const mh = key.split('/')[3] as string
      refs.set(mh, (refs.get(mh) ?? 0) + 1)
    }
    const counts = new Map<string, number>()
    const blocks = { gte: '/pinery/dag-block/', lt: '/pinery/dag-block/\xff' }
    for await (const [key, value] of datastore.db.iterator(blocks)) {
      counts.set(key.split('/')[3] as string, decodeCount(value))
    }
    expect(counts).toEqual(refs)
    return counts
  } finally {
    await datastore.close()
  }
}

describe('datastore format', () => {
  const dirs: string[] = []
  let svc: TestService | undefined
  afterEach(async () => {
    await svc?.stop()
    svc = undefined
    for (const dir of dirs.splice(0)) await rm(join(dir, '..'), { recursive: true, force: true })
  })

  /** Starts on `dataDir` and checks that everything the old build stored is there and served. */
  async function expectAllThere (dataDir: string): Promise<void> {
    svc = await startService({ dataDir, env: { PINERY_ADMIN_TOKEN: V1_ADMIN } })
    const alice = (await readFile(join(dataDir, 'alice-token'), 'utf8')).trim()
    const saved = async (name: string): Promise<Status> =>
      JSON.parse(await readFile(join(dataDir, name), 'utf8')) as Status
    const report = await saved('upload-alice.json')
    const site = await saved('upload-site.json')
    const listed = await svc.request('/pins?status=queued,pinning,pinned,failed', { user: alice })
    const list = await listed.json() as { count: number, results: Status[] }
    expect(list.results.map(r => [r.pin.name, r.status]).sort())
      .toEqual([['identity', 'pinned'], ['report', 'pinned'], ['site', 'pinned']])
    const upload = await saved('upload-admin.json')
    const again = await (await svc.request(`/pins/${upload.requestid}`, { user: V1_ADMIN })).json() as Status
    expect(again.status).toBe('pinned')
    // Collection keeps every pinned block: the pins were understood, not merely listed.
    await svc.pinery.gc.collect()
    const file = await svc.request(`/ipfs/${report.pin.cid}`, { user: alice })
    expect(file.status).toBe(200)
    const digest = createHash('sha256').update(Buffer.from(await file.arrayBuffer())).digest('hex')
    expect(digest).toBe((await readFile(join(dataDir, 'file.sha256'), 'utf8')).trim())
    expect(await (await svc.request(`/ipfs/${site.pin.cid}/css/app.css`, { user: alice })).text()).toBe('h1{}\n')
    await svc.stop()
    svc = undefined
    expect(await keysUnder(dataDir, '/pin/')).toEqual([])
    expect(await keysUnder(dataDir, '/pinned-block/')).toEqual([])
    expect((await keysUnder(dataDir, '/pinery/dag/')).length).toBe(2) // the report (alice's and admin's) and the site
    expect((await countsMatchingRefs(dataDir)).size).toBeGreaterThan(0)
  }

  it('migrates a data dir of the previous build with pins, users, tokens and uploads', async () => {
    const dataDir = await extractV1()
    dirs.push(dataDir)
    expect((await keysUnder(dataDir, '/pin/')).length).toBeGreaterThan(0)
    await expectAllThere(dataDir)
    const datastore = await openDatastore(dataDir)
    try {
      expect(new TextDecoder().decode(await datastore.db.get('/pinery/format'))).toBe(String(DATASTORE_FORMAT))
    } finally {
      await datastore.close()
    }
  })

  it('resumes a migration cut short at any batch', async () => {
    // How many batches a whole migration takes, one key per batch.
    const probe = await extractV1()
    dirs.push(probe)
    let batches = 0
    const datastore = await openDatastore(probe)
    await migrateDatastore({ datastore, logger }, { batchSize: 1, afterBatch: () => { batches++ } })
    await datastore.close()
    expect(batches).toBeGreaterThan(6)

    for (const cut of [1, Math.floor(batches / 3), Math.floor(batches / 2), batches - 1]) {
      const dataDir = await extractV1()
      dirs.push(dataDir)
      const ds = await openDatastore(dataDir)
      let done = 0
      const crash = (): void => { if (++done === cut) throw new Error('crash') }
      await expect(migrateDatastore({ datastore: ds, logger }, { batchSize: 1, afterBatch: crash }))
        .rejects.toThrow(/^crash$/)
      await ds.close()
      await expectAllThere(dataDir)
    }
  })

  it('splits format 2\'s lists of roots into refs and counts, also when cut short at any batch', async () => {
    const cid = async (text: string): Promise<CID> =>
      CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))
    const [r1, r2, r3] = await Promise.all(['r1', 'r2', 'r3'].map(cid)) as [CID, CID, CID]
    const [x, y, z, w] = await Promise.all(['x', 'y', 'z', 'w'].map(cid)) as [CID, CID, CID, CID]
    // x shared by all three, y by r1 (listed twice), z by r2 and r3, w by none.
    const lists: Array<[CID, CID[]]> = [[x, [r1, r2, r3]], [y, [r1, r1]], [z, [r2, r3]], [w, []]]
    async function formatTwo (): Promise<string> {
      const dataDir = join(await mkdtemp(join(tmpdir(), 'pinery-v2-')), 'data')
      dirs.push(dataDir)
      const ds = await openDatastore(dataDir)
      await ds.db.put('/pinery/format', new TextEncoder().encode('2'))
      for (const r of [r1, r2, r3]) await ds.db.put(`/pinery/dag/${r.toString()}`, cborg.encode({ dagSize: 1 }))
      for (const [block, by] of lists) {
        await ds.db.put(pinnedBlockKey(block).toString(), cborg.encode({ by: by.map(r => r.bytes) }))
      }
      await ds.close()
      return dataDir
    }
    const expected = new Map(lists.filter(([, by]) => by.length > 0)
      .map(([block, by]) => [pinnedBlockKey(block).toString().split('/')[3], new Set(by).size]))
    for (const cut of [1, 2, 3, 4, Infinity]) {
      const dataDir = await formatTwo()
      let ds = await openDatastore(dataDir)
      let done = 0
      const crash = (): void => { if (++done === cut) throw new Error('crash') }
      const first = migrateDatastore({ datastore: ds, logger }, { batchSize: 1, afterBatch: crash })
      if (cut === Infinity) await first
      else await expect(first).rejects.toThrow(/^crash$/)
      await ds.close()
      ds = await openDatastore(dataDir)
      await migrateDatastore({ datastore: ds, logger }, { batchSize: 1 })
      expect(new TextDecoder().decode(await ds.db.get('/pinery/format'))).toBe('3')
      await ds.close()
      expect(await countsMatchingRefs(dataDir)).toEqual(expected)
      // The converted pins behave: x stays while any root keeps it.
      ds = await openDatastore(dataDir)
      const pins = await createDagPins({ datastore: ds })
      await pins.rm(r1, [r1, x, y])
      expect(await Promise.all([x, y, z].map(async c => await pins.isPinned(c)))).toEqual([true, false, true])
      await pins.rm(r2, [r2, x, z])
      await pins.rm(r3, [r3, x, z])
      expect(await Promise.all([x, y, z].map(async c => await pins.isPinned(c)))).toEqual([false, false, false])
      await ds.close()
    }
  })

  it('says it migrated only when it moved something: a new data dir starts without such lines', async () => {
    const migrationLines = async (dataDir: string): Promise<string[]> => {
      const lines: string[] = []
      const destination = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done() } })
      const datastore = await openDatastore(dataDir)
      try {
        await migrateDatastore({ datastore, logger: createLogger({ level: 'info', destination }) })
      } finally {
        await datastore.close()
      }
      return lines.map(l => (JSON.parse(l) as { msg: string }).msg)
    }
    const fresh = await mkdtemp(join(tmpdir(), 'pinery-new-'))
    dirs.push(join(fresh, 'data'))
    expect(await migrationLines(join(fresh, 'data'))).toEqual([])
    const old = await extractV1()
    dirs.push(old)
    const said = await migrationLines(old)
    expect(said.some(m => m.includes('datastore format 2'))).toBe(true)
    expect(said.some(m => m.includes('datastore format 3'))).toBe(true)
  })

  it('refuses a data dir written by a newer build, changing nothing', async () => {
    const dataDir = await extractV1()
    dirs.push(dataDir)
    const ds = await openDatastore(dataDir)
    await ds.db.put('/pinery/format', new TextEncoder().encode(String(DATASTORE_FORMAT + 1)))
    await ds.close()
    await expect(startService({ dataDir, env: { PINERY_ADMIN_TOKEN: V1_ADMIN } }))
      .rejects.toThrow(/newer Pinery \(datastore format 4\)/)
    expect((await keysUnder(dataDir, '/pin/')).length).toBeGreaterThan(0)
  })
})
