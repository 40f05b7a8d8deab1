/**
 * Data dirs written before the datastore had a format version keep working:
 * start-up moves DAG pins from Helia's layout into Pinery's own keys, also
 * when an earlier attempt was cut short at any batch.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.js'
import { DATASTORE_FORMAT, migrateDatastore } from '../../src/node/datastore-format.js'
import { openDatastore } from '../../src/node/storage.js'
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
    const saved = async (name: string): Promise<Status> => JSON.parse(await readFile(join(dataDir, name), 'utf8')) as Status
    const report = await saved('upload-alice.json')
    const site = await saved('upload-site.json')
    const list = await (await svc.request('/pins?status=queued,pinning,pinned,failed', { user: alice })).json() as { count: number, results: Status[] }
    expect(list.results.map(r => [r.pin.name, r.status]).sort()).toEqual([['identity', 'pinned'], ['report', 'pinned'], ['site', 'pinned']])
    const again = await (await svc.request(`/pins/${(await saved('upload-admin.json')).requestid}`, { user: V1_ADMIN })).json() as Status
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
      await expect(migrateDatastore({ datastore: ds, logger }, { batchSize: 1, afterBatch: crash })).rejects.toThrow(/^crash$/)
      await ds.close()
      await expectAllThere(dataDir)
    }
  })

  it('refuses a data dir written by a newer build, changing nothing', async () => {
    const dataDir = await extractV1()
    dirs.push(dataDir)
    const ds = await openDatastore(dataDir)
    await ds.db.put('/pinery/format', new TextEncoder().encode(String(DATASTORE_FORMAT + 1)))
    await ds.close()
    await expect(startService({ dataDir, env: { PINERY_ADMIN_TOKEN: V1_ADMIN } })).rejects.toThrow(/newer Pinery \(datastore format 3\)/)
    expect((await keysUnder(dataDir, '/pin/')).length).toBeGreaterThan(0)
  })
})
