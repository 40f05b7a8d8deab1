/**
 * A node-wide webhook (all: true) is an admin's: it receives every user's events. Its owner demoted to
 * member kept it delivering every user's pin names, CIDs and meta to their URL, and could no longer even see
 * it (a member's list leaves node-wide webhooks out). It is now disabled, with the reason, when its owner
 * stops being an admin, online and offline.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openOfflineTeam } from '../../src/offline.js'
import { startReceiver, type Receiver } from '../fixtures/receiver.js'
import { startService, type TestService } from '../fixtures/service.js'

const json = { 'content-type': 'application/json' }

describe('a node-wide webhook whose owner is demoted', () => {
  let svc: TestService
  let receiver: Receiver
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinery-demoted-'))
    receiver = await startReceiver(join(dir, 'received.log'))
    svc = await startService({ users: ['alice'], env: { PINERY_WEBHOOK_ALLOW: '127.0.0.1' } })
  })
  afterAll(async () => {
    await svc.destroy()
    await receiver.kill()
    await rm(dir, { recursive: true, force: true })
  })

  const post = async (path: string, body: unknown, user = 'admin'): Promise<Response> =>
    await svc.request(path, { method: 'POST', user, headers: json, body: JSON.stringify(body) })
  const pin = async (name: string): Promise<void> => {
    expect((await post('/pins', { cid: 'bafkqaaa', name }, 'alice')).status).toBe(202)
  }
  const received = async (name: string): Promise<boolean> =>
    (await receiver.received()).some(r => r.body.includes(name))
  const until = async (pred: () => Promise<boolean>): Promise<void> => {
    for (const deadline = Date.now() + 10_000; !await pred();) {
      if (Date.now() > deadline) throw new Error('not received')
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  it('stops delivering every user\'s events, online', async () => {
    expect((await post('/users', { name: 'dave', role: 'admin' })).status).toBe(201)
    const token = await post('/users/dave/tokens', { scope: 'admin' })
    const { secret } = await token.json() as { secret: string }
    const hook = await post('/webhooks', { url: receiver.url, events: ['pin.pinned'], all: true }, secret)
    expect(hook.status).toBe(201)
    const { id } = await hook.json() as { id: string }
    await pin('alice-before-demotion')
    await until(async () => await received('alice-before-demotion'))

    const demoted = await svc.request('/users/dave', { method: 'PATCH', headers: json, body: '{"role":"member"}' })
    expect(demoted.status).toBe(200)
    await pin('alice-after-demotion')
    await pin('alice-marker')
    await new Promise(resolve => setTimeout(resolve, 1_500))
    expect(await received('alice-after-demotion')).toBe(false)

    // Made an admin again, dave sees why it stopped and may turn it back on.
    expect((await svc.request('/users/dave', { method: 'PATCH', headers: json, body: '{"role":"admin"}' })).status)
      .toBe(200)
    const shown = await svc.request(`/webhooks/${id}`, { user: secret })
    expect(await shown.json()).toMatchObject({ enabled: false, disabled_reason: expect.stringMatching(/admin/) })
  })

  it('is disabled by an offline demotion too', async () => {
    expect((await post('/users', { name: 'erin', role: 'admin' })).status).toBe(201)
    const token = await post('/users/erin/tokens', { scope: 'admin' })
    const { secret } = await token.json() as { secret: string }
    const hook = await post('/webhooks', { url: receiver.url, events: ['pin.pinned'], all: true }, secret)
    const { id } = await hook.json() as { id: string }
    await svc.stop()
    const offline = await openOfflineTeam(svc.dataDir)
    try {
      await offline.team.updateUser('erin', { role: 'member' })
    } finally { await offline.close() }
    const again = await startService({ dataDir: svc.dataDir, env: { PINERY_WEBHOOK_ALLOW: '127.0.0.1' } })
    try {
      await again.request('/pins', {
        method: 'POST', user: svc.tokens.alice, headers: json, body: '{"cid":"bafkqaaa","name":"after-offline"}'
      })
      await new Promise(resolve => setTimeout(resolve, 1_500))
      expect(await received('after-offline')).toBe(false)
      await again.request('/users/erin', { method: 'PATCH', headers: json, body: '{"role":"admin"}' })
      expect(await (await again.request(`/webhooks/${id}`, { user: secret })).json()).toMatchObject({ enabled: false })
    } finally { await again.destroy() }
  })
})
