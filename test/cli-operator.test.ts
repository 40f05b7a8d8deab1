/**
 * An operator on one box, from the README: an older Pinery's data dir (test/fixtures/datadir-v1) checked, started
 * on with the settings an operator sets, backed up while running, stopped, restored onto a fresh data dir, started
 * again with every pin there and served, and verified. The built service and CLI run as child processes.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { access, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { Configuration, RemotePinningServiceClient, Status } from '@ipfs-shipyard/pinning-service-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, run, serverEnv, startServerProcess } from './fixtures/process.js'

const TARBALL = fileURLToPath(new URL('./fixtures/datadir-v1/datadir-v1.tar.gz', import.meta.url))
const V1_ADMIN = 'pinery_v1-admin-token'

describe('an operator upgrades, backs up and restores one node', () => {
  let work: string
  let v1: string
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'pinery-operator-'))
    await promisify(execFile)('tar', ['-C', work, '-xzf', TARBALL])
    v1 = join(work, 'data')
  })
  afterAll(async () => { if (work != null) await rm(work, { recursive: true, force: true }) })

  const offline = async (dataDir: string, ...args: string[]): ReturnType<typeof run> =>
    await run(CLI, args, { PINERY_DATA_DIR: dataDir })

  it('refuses to verify a data dir that is not there, or not upgraded yet, instead of passing it', async () => {
    const missing = join(work, 'mistyped')
    const none = await offline(missing, 'verify')
    expect(none.code).toBe(1)
    expect(none.stderr).toBe(`pinery: ${missing} holds no Pinery data (no datastore) to check; ` +
      'is PINERY_DATA_DIR right?\n')
    await expect(access(missing)).rejects.toThrow()

    const old = await offline(v1, 'verify')
    expect(old.code, old.stdout).toBe(1)
    expect(old.stderr).toMatch(/is in datastore format 1, .* start the service on it once .* then verify\n$/)
    // A backup of it, restored, says the same rather than "checked 0 pinned DAGs: every block is present".
    const archive = join(work, 'v1.tar')
    expect((await offline(v1, 'backup', '--out', archive)).code).toBe(0)
    const restored = await offline(join(work, 'from-v1'), 'restore', archive)
    expect(restored.code, restored.stderr).toBe(0)
    expect(restored.stdout).toMatch(/\nnot checked yet: .* is in datastore format 1, /)
    expect(restored.stdout).not.toMatch(/every block is present/)
  })

  it('upgrades it, backs it up while running, restores it elsewhere: every pin there, served, whole', async () => {
    const settings = {
      ...serverEnv(v1, V1_ADMIN),
      PINERY_HTTP_HOST: '127.0.0.1',
      PINERY_MAX_PENDING_PER_USER: '100',
      PINERY_MAX_UPLOAD_BLOCKS: '10000',
      PINERY_RATE_LIMIT: '100'
    }
    const alice = (await readFile(join(v1, 'alice-token'), 'utf8')).trim()
    const pinsOf = async (url: string): Promise<string[]> => {
      const client = new RemotePinningServiceClient(new Configuration({ endpointUrl: url, accessToken: alice }))
      const status = [Status.Queued, Status.Pinning, Status.Pinned, Status.Failed]
      const { results } = await client.pinsGet({ status })
      return Array.from(results).map(p => `${p.requestid} ${p.status} ${p.pin.cid} ${p.pin.name ?? ''}`).sort()
    }
    const first = await startServerProcess(settings)
    const before = await pinsOf(first.url)
    expect(before).toHaveLength(3)
    const online = { PINERY_URL: first.url, PINERY_TOKEN: V1_ADMIN }

    // A backup into a folder that is not there: one line, exit 1 (was an unhandled 'error' and a stack trace).
    const nowhere = await run(CLI, ['backup', '--out', join(work, 'no-such-dir', 'node.tar')], online)
    expect(nowhere.code).toBe(1)
    expect(nowhere.stderr).toBe(`pinery: cannot write ${join(work, 'no-such-dir', 'node.tar')}: ` +
      `no directory ${join(work, 'no-such-dir')}\n`)
    const archive = join(work, 'node.tar')
    const backup = await run(CLI, ['backup', '--out', archive], online)
    expect(backup.code, backup.stderr).toBe(0)
    expect(backup.stdout + backup.stderr).not.toContain(V1_ADMIN)
    expect(await first.stop()).toBe(0)

    const fresh = join(work, 'restored')
    const restored = await offline(fresh, 'restore', archive)
    expect(restored.code, restored.stderr).toBe(0)
    // The report file (alice's and admin's upload) and the site folder; the identity CID has no block.
    expect(restored.stdout).toMatch(/\nchecked 2 pinned DAGs, \d+ blocks .*: every block is present/)
    const verified = await offline(fresh, 'verify', '--json')
    expect(verified.code, verified.stderr).toBe(0)
    expect(JSON.parse(verified.stdout)).toMatchObject({ dags: 2, damaged: [] })

    const second = await startServerProcess({ ...settings, PINERY_DATA_DIR: fresh })
    try {
      expect(await pinsOf(second.url)).toEqual(before)
      const upload = JSON.parse(await readFile(join(v1, 'upload-alice.json'), 'utf8')) as { pin: { cid: string } }
      const res = await fetch(`${second.url}/ipfs/${upload.pin.cid}`, { headers: { authorization: `Bearer ${alice}` } })
      expect(res.status).toBe(200)
      const sha = createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex')
      expect(sha).toBe((await readFile(join(v1, 'file.sha256'), 'utf8')).trim())
    } finally {
      expect(await second.stop()).toBe(0)
    }
  })
})
