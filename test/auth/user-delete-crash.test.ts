/**
 * Deleting a user with their pins, killed midway (SIGKILL): the user record
 * goes first and their requests one by one after it, so a kill in between
 * left requests of nobody, which no admin route shows or deletes and which a
 * new user of the same name inherited (names, CIDs, quota). The next start
 * must finish the deletion.
 */
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serverEnv, startServerProcess, type ServerProcess } from '../fixtures/process.js'
import { openOfflineTeam } from '../../src/offline.js'

const TOKEN = 'pinery_user-delete-crash-admin'
const PINS = 1500

describe('a user deletion cut short by a kill', () => {
  let dataDir: string
  let server: ServerProcess | undefined
  beforeAll(async () => { dataDir = await mkdtemp(join(tmpdir(), 'pinery-userdel-')) })
  afterAll(async () => {
    await server?.stop()
    await rm(dataDir, { recursive: true, force: true })
  })

  const call = async (path: string, init: RequestInit & { token?: string } = {}): Promise<Response> => {
    const { token = TOKEN, ...rest } = init
    return await fetch(`${server?.url}${path}`, {
      ...rest, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    })
  }
  const newUser = async (name: string): Promise<string> => {
    expect((await call('/users', { method: 'POST', body: JSON.stringify({ name }) })).status).toBe(201)
    const res = await call(`/users/${name}/tokens`, { method: 'POST', body: '{}' })
    return (await res.json() as { secret: string }).secret
  }

  /** Starts the service on a fresh data dir, gives bob PINS requests, and kills it while deleting bob. */
  async function killMidDeletion (): Promise<void> {
    // The service the test before started on this data dir (it would outlive the suite otherwise).
    await server?.stop()
    server = undefined
    await rm(dataDir, { recursive: true, force: true })
    server = await startServerProcess(serverEnv(dataDir, TOKEN))
    const bob = await newUser('bob')
    // Identity CIDs settle pinned at once: many requests, quickly.
    for (let i = 0; i < PINS; i += 50) {
      await Promise.all(Array.from({ length: 50 }, async (_, j) => {
        const cid = CID.createV1(raw.code, identity.digest(new TextEncoder().encode(`bob's ${i + j}`)))
        const res = await call('/pins', { method: 'POST', token: bob, body: JSON.stringify({ cid: cid.toString() }) })
        expect(res.status).toBe(202)
      }))
    }
    let answered = false
    const deletion = call('/users/bob?remove_pins=true', { method: 'DELETE' })
      .then(() => { answered = true }, () => {})
    // The user record is gone: the requests are being removed, one durable write each.
    for (;;) {
      if ((await call('/users/bob')).status === 404) break
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    server.child.kill('SIGKILL')
    await once(server.child, 'exit')
    server = undefined
    await deletion
    expect(answered).toBe(false)
  }

  it('is finished at the next start', async () => {
    await killMidDeletion()
    server = await startServerProcess(serverEnv(dataDir, TOKEN))
    expect((await call('/users/bob')).status).toBe(404)
    const newBob = await newUser('bob')
    const all = '?status=queued,pinning,pinned,failed&limit=1'
    const seen = await (await call(`/pins${all}`, { token: newBob })).json() as { count: number }
    expect(seen.count).toBe(0)
    const usage = await (await call('/usage', { token: newBob })).json() as { pins: Record<string, number> }
    expect(usage.pins).toEqual({ queued: 0, pinning: 0, pinned: 0, failed: 0 })
  }, 120_000)

  it('is finished by the offline team administration too', async () => {
    await killMidDeletion()
    const { team, close } = await openOfflineTeam(dataDir)
    try {
      const created = await team.createUser('bob')
      expect(created.usage.pins).toEqual({ queued: 0, pinning: 0, pinned: 0, failed: 0 })
    } finally {
      await close()
    }
  }, 120_000)
})
