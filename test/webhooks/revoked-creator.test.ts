/**
 * Revoking a token stops what it set up to receive the user's events: "whatever a lost or stolen token
 * minted goes with it". A webhook registered with a stolen token kept POSTing every pin name, CID and meta
 * of its user to the thief's URL after the token was revoked. It is now disabled, with the reason shown,
 * and the owner may enable it again with a token of theirs; online and offline.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openOfflineTeam } from '../../src/offline.js'
import { startReceiver, type Receiver } from '../fixtures/receiver.js'
import { startService, type TestService } from '../fixtures/service.js'

const ALLOW = { PINERY_WEBHOOK_ALLOW: '127.0.0.1' }

describe('a webhook whose registering token is revoked', () => {
  let svc: TestService
  let receiver: Receiver
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-revoked-hook-'))
    receiver = await startReceiver(join(dir, 'received.log'))
    svc = await startService({ users: ['alice'], env: ALLOW })
  })
  afterAll(async () => {
    await svc.destroy()
    await receiver.kill()
    await rm(dir, { recursive: true, force: true })
  })

  const newToken = async (): Promise<{ id: string, secret: string }> =>
    await (await svc.call('POST', '/users/alice/tokens', 'admin', {})).json() as { id: string, secret: string }
  const register = async (secret: string, path: string): Promise<string> => {
    const res = await svc.call('POST', '/webhooks', secret, { url: `${receiver.url}${path}`, events: ['pin.pinned'] })
    expect(res.status).toBe(201)
    return (await res.json() as { id: string }).id
  }
  const pin = async (s: TestService, name: string): Promise<void> => {
    expect((await s.call('POST', '/pins', svc.tokens.alice as string, { cid: 'bafkqaaa', name })).status).toBe(202)
  }
  const got = async (path: string, name: string): Promise<boolean> =>
    (await receiver.received()).some(r => r.path === `/hook${path}` && r.body.includes(name))
  const until = async (pred: () => Promise<boolean>): Promise<void> => {
    for (const deadline = Date.now() + 10_000; !await pred();) {
      if (Date.now() > deadline) throw new Error('not received')
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
  const settle = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 1_500)) }

  it('is disabled when its token is revoked; others stay; the owner may enable it again', async () => {
    const stolen = await newToken()
    const kept = await newToken()
    const thief = await register(stolen.secret, '/thief')
    await register(kept.secret, '/kept')
    await pin(svc, 'before-revoke')
    await until(async () => await got('/thief', 'before-revoke'))

    expect((await svc.call('DELETE', `/users/alice/tokens/${stolen.id}`, 'admin')).status).toBe(204)
    await pin(svc, 'after-revoke')
    await until(async () => await got('/kept', 'after-revoke'))
    await settle()
    expect(await got('/thief', 'after-revoke')).toBe(false)

    const shown = await (await svc.call('GET', `/webhooks/${thief}`, kept.secret)).json()
    expect(shown).toMatchObject({ enabled: false, disabled_reason: expect.stringMatching(/revoked/) })
    expect((await svc.call('PATCH', `/webhooks/${thief}`, kept.secret, { enabled: true })).status).toBe(200)
    await pin(svc, 'enabled-again')
    await until(async () => await got('/thief', 'enabled-again'))
  })

  it('is disabled by an offline revocation too', async () => {
    const stolen = await newToken()
    await register(stolen.secret, '/offline')
    await svc.stop()
    const offline = await openOfflineTeam(svc.dataDir)
    try {
      await offline.team.revokeToken('alice', stolen.id)
    } finally { await offline.close() }
    const again = await startService({ dataDir: svc.dataDir, env: ALLOW })
    try {
      await pin(again, 'after-offline-revoke')
      await settle()
      expect(await got('/offline', 'after-offline-revoke')).toBe(false)
    } finally { await again.destroy() }
  })

  it('is disabled when PINERY_ADMIN_TOKEN replaces the token that registered it', async () => {
    const dataDir = join(dir, 'rotated')
    const first = await startService({ dataDir, env: ALLOW })
    let id: string
    try {
      const hook = { url: `${receiver.url}/rotated`, events: ['pin.pinned'] }
      const res = await first.call('POST', '/webhooks', 'admin', hook)
      id = (await res.json() as { id: string }).id
    } finally { await first.stop() }
    const next = 'pinery_rotated-admin-token'
    const again = await startService({ dataDir, env: { ...ALLOW, PINERY_ADMIN_TOKEN: next } })
    try {
      const shown = await (await again.call('GET', `/webhooks/${id}`, next)).json()
      expect(shown).toMatchObject({ enabled: false, disabled_reason: expect.stringMatching(/revoked/) })
      await again.call('POST', '/pins', next, { cid: 'bafkqaaa', name: 'after-rotation' })
      await settle()
      expect(await got('/rotated', 'after-rotation')).toBe(false)
    } finally { await again.stop() }
  })
})
