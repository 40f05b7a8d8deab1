/**
 * The node a restore makes, from a backup of a service whose key is sealed with PINERY_KEY_PASSWORD and which
 * holds a request still pinning (its origin unreachable then): it starts with the same password and peer ID,
 * refuses to start without it, and the request resumes and is pinned once the origin can be dialled.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOrigin, type Origin } from './fixtures/origin.js'
import { CLI, run, serverEnv, startServerProcess } from './fixtures/process.js'

const TOKEN = 'pinery_backup-restored-admin'
const headers = { authorization: `Bearer ${TOKEN}` }
const PASSWORD = 'correct horse battery staple'
let root: string
let origin: Origin

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pinery-restored-'))
  origin = await startOrigin()
}, 60_000)

afterAll(async () => {
  await origin?.stop()
  await rm(root, { recursive: true, force: true })
})

describe('a restored node', () => {
  it('keeps its sealed key and resumes a request that was pinning', async () => {
    const cid = await origin.addFile(randomBytes(300_000))
    const sealed = { PINERY_KEY_PASSWORD: PASSWORD, PINERY_STALL_TIMEOUT_MS: '600000' }
    // Loopback may not be dialled: the origin stays out of reach, and the request stays pinning.
    const service = await startServerProcess({
      ...serverEnv(join(root, 'source'), TOKEN), ...sealed, PINERY_DIAL_ALLOW: ''
    })
    let requestid: string
    const file = join(root, 'backup.tar')
    try {
      const res = await fetch(`${service.url}/pins`, {
        method: 'POST', headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ cid: cid.toString(), origins: origin.addrs })
      })
      requestid = (await res.json() as { requestid: string }).requestid
      const backup = await run(CLI, ['backup', '--out', file], { PINERY_URL: service.url, PINERY_TOKEN: TOKEN })
      expect(backup.code, backup.stderr).toBe(0)
    } finally {
      await service.stop()
    }
    const target = join(root, 'restored')
    const restore = await run(CLI, ['restore', file], { PINERY_DATA_DIR: target })
    expect(restore.code, restore.stderr).toBe(0)
    const without = await startServerProcess(serverEnv(target, TOKEN)).then(s => s.stop(), (e: Error) => e)
    expect(String(without)).toMatch(/PINERY_KEY_PASSWORD/)
    const restored = await startServerProcess({ ...serverEnv(target, TOKEN), ...sealed })
    try {
      expect(restored.peerId).toBe(service.peerId)
      await expect.poll(async () => {
        const res = await fetch(`${restored.url}/pins/${requestid}`, { headers })
        return (await res.json() as { status: string }).status
      }, { timeout: 30_000, interval: 200 }).toBe('pinned')
    } finally {
      await restored.stop()
    }
  }, 120_000)
})
