/**
 * Backup and restore as an operator uses them: `pinery backup --out FILE` against the running service (an
 * admin token; a member's is refused, and a second backup while one is being written answers 409), then
 * `pinery restore FILE` into a new data dir, where a service starts with the same peer ID, requests, users,
 * tokens and content, and every pinned DAG checks whole. A backup of a stopped data dir restores the same
 * way; a restore refuses a non-empty data dir, and a cut or foreign archive leaves nothing behind.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOrigin, type Origin } from './fixtures/origin.js'
import { CLI, run, serverEnv, startServerProcess, type ServerProcess } from './fixtures/process.js'

const TOKEN = 'pinery_backup-test-admin'
const headers = { authorization: `Bearer ${TOKEN}` }
let root: string
let source: string
let service: ServerProcess
let origin: Origin
let peerId: string
let bobToken: string
const files = new Map<string, Buffer>()
let pinsBefore: unknown[]

/** Every request, sorted, as GET /pins lists them (status, CID and name). */
async function listPins (url: string): Promise<unknown[]> {
  const res = await fetch(`${url}/pins?limit=1000&status=queued,pinning,pinned,failed`, { headers })
  const body = await res.json() as { results: Array<{ requestid: string, status: string, pin: unknown }> }
  return body.results.map(r => ({ requestid: r.requestid, status: r.status, pin: r.pin }))
    .sort((a, b) => a.requestid.localeCompare(b.requestid))
}

/** The status of `requestid` once it is pinned or failed. */
async function settled (url: string, requestid: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const { status } = await (await fetch(`${url}/pins/${requestid}`, { headers })).json() as { status: string }
    if (status === 'pinned' || status === 'failed') return status
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return 'unsettled'
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pinery-backup-'))
  source = join(root, 'source')
  origin = await startOrigin()
  service = await startServerProcess(serverEnv(source, TOKEN))
  peerId = service.peerId
  for (const seed of [1, 2]) {
    const bytes = randomBytes(1_200_000 * seed)
    const res = await fetch(`${service.url}/content?name=file-${seed}`, { method: 'POST', headers, body: bytes })
    const status = await res.json() as { status: string, pin: { cid: string } }
    expect(status.status).toBe('pinned')
    files.set(status.pin.cid, bytes)
  }
  const cid = await origin.addFile(randomBytes(900_000))
  const pin = await fetch(`${service.url}/pins`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ cid: cid.toString(), name: 'from-origin', origins: origin.addrs })
  })
  expect(await settled(service.url, (await pin.json() as { requestid: string }).requestid)).toBe('pinned')
  const online = { PINERY_URL: service.url, PINERY_TOKEN: TOKEN }
  expect((await run(CLI, ['user', 'create', 'bob'], online)).code).toBe(0)
  const created = await run(CLI, ['token', 'create', '--user', 'bob', '--label', 'laptop'], online)
  expect(created.code, created.stderr).toBe(0)
  bobToken = created.stdout.trim()
  pinsBefore = await listPins(service.url)
  expect(pinsBefore).toHaveLength(3)
}, 120_000)

afterAll(async () => {
  await service?.stop()
  await origin?.stop()
  await rm(root, { recursive: true, force: true })
})

describe('pinery backup and restore', () => {
  it('refuses a member token, and a second backup while one is being written', async () => {
    const member = await fetch(`${service.url}/backup`, { headers: { authorization: `Bearer ${bobToken}` } })
    expect(member.status).toBe(403)
    expect(await member.json()).toMatchObject({ error: { reason: 'FORBIDDEN' } })
    // The first backup's body is not read, so it stays in progress.
    const controller = new AbortController()
    const first = await fetch(`${service.url}/backup`, { headers, signal: controller.signal })
    expect(first.status).toBe(200)
    expect(first.headers.get('content-type')).toBe('application/x-tar')
    const second = await fetch(`${service.url}/backup`, { headers })
    expect(second.status).toBe(409)
    expect(await second.json()).toMatchObject({ error: { reason: 'CONFLICT' } })
    controller.abort()
    // A client that went away ends its backup: the next one is written.
    await expect.poll(async () => {
      const again = await fetch(`${service.url}/backup`, { headers })
      await again.body?.cancel()
      return again.status
    }, { timeout: 10_000 }).toBe(200)
  })

  it('writes an owner-only tar of the running node, which restores into a node with the same data', async () => {
    const file = join(root, 'online.tar')
    const backup = await run(CLI, ['backup', '--out', file], { PINERY_URL: service.url, PINERY_TOKEN: TOKEN }, 60_000)
    expect(backup.code, backup.stderr).toBe(0)
    expect(backup.stdout).toMatch(/^wrote .*online\.tar/)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const names = execFileSync('tar', ['tf', file]).toString().trim().split('\n')
    expect(names[0]).toBe('pinery-backup.json')
    expect(names.at(-1)).toBe('pinery-backup-end.json')
    expect(names.some(n => n.startsWith('datastore/'))).toBe(true)
    expect(await readdir(root)).not.toContainEqual(expect.stringMatching(/partial/))

    const target = join(root, 'restored')
    const restore = await run(CLI, ['restore', file], { PINERY_DATA_DIR: target }, 60_000)
    expect(restore.code, restore.stderr).toBe(0)
    expect(restore.stdout).toMatch(/every block is present and matches its CID/)
    expect(restore.stdout).toMatch(/checked 3 pinned DAGs/)
    // Never over a data dir that holds anything.
    const again = await run(CLI, ['restore', file], { PINERY_DATA_DIR: target })
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/is not empty/)

    const restored = await startServerProcess(serverEnv(target, TOKEN))
    try {
      expect(restored.peerId).toBe(peerId)
      expect(await listPins(restored.url)).toEqual(pinsBefore)
      const bob = await fetch(`${restored.url}/pins`, { headers: { authorization: `Bearer ${bobToken}` } })
      expect(bob.status).toBe(200)
      for (const [cid, bytes] of files) {
        const res = await fetch(`${restored.url}/ipfs/${cid}`, { headers })
        expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true)
      }
    } finally {
      await restored.stop()
    }
  }, 120_000)

  it('backs up a stopped data dir the same way, and refuses a cut or foreign archive', async () => {
    await service.stop()
    try {
      const file = join(root, 'offline.tar')
      const backup = await run(CLI, ['backup', '--out', file], { PINERY_DATA_DIR: source }, 60_000)
      expect(backup.code, backup.stderr).toBe(0)
      const target = join(root, 'restored-offline')
      const restore = await run(CLI, ['--json', 'restore', file], { PINERY_DATA_DIR: target }, 60_000)
      expect(restore.code, restore.stderr).toBe(0)
      const report = JSON.parse(restore.stdout) as { restored: { blocks: number }, verified: { dags: number } }
      expect(report.verified.dags).toBe(3)
      expect(report.restored.blocks).toBeGreaterThan(3)

      const cut = join(root, 'cut.tar')
      await writeFile(cut, await readFile(file))
      await truncate(cut, Math.floor((await stat(cut)).size / 2))
      const fromCut = await run(CLI, ['restore', cut], { PINERY_DATA_DIR: join(root, 'from-cut') })
      expect(fromCut.code).toBe(1)
      expect(fromCut.stderr).toMatch(/cut off|unexpected end|Unexpected end/i)
      const foreign = join(root, 'foreign.tar')
      execFileSync('tar', ['cf', foreign, '-C', root, 'cut.tar'])
      const fromForeign = await run(CLI, ['restore', foreign], { PINERY_DATA_DIR: join(root, 'from-foreign') })
      expect(fromForeign.code).toBe(1)
      expect(fromForeign.stderr).toMatch(/not a Pinery backup/)
      const left = await readdir(root)
      expect(left.filter(n => /from-|restoring/.test(n))).toEqual([])
    } finally {
      service = await startServerProcess(serverEnv(source, TOKEN))
    }
  }, 120_000)
})
