/**
 * Team administration over HTTP: users with roles and quotas, any user's
 * tokens, deleting users (refused while they have pins unless asked), usage,
 * and that only admin tokens reach any of it. Also the isolation matrix:
 * one user's pins are invisible to another on every pins route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'

const JSON_HEADERS = { 'content-type': 'application/json' }

describe('team administration', () => {
  let service: TestService
  beforeAll(async () => { service = await startService({ users: ['alice'] }) })
  afterAll(async () => { await service.destroy() })

  const admin = async (path: string, method = 'GET', body?: unknown): Promise<Response> =>
    await service.request(path, {
      method, headers: JSON_HEADERS, ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })
  const withSecret = async (secret: string, path: string, init: RequestInit = {}): Promise<Response> =>
    await service.request(path,
      { ...init, user: null, headers: { ...JSON_HEADERS, authorization: `Bearer ${secret}` } })

  it('creates, shows, changes and lists users; refuses bad and duplicate ones', async () => {
    const created = await admin('/users', 'POST', { name: 'bob', quota: { bytes: 1000, pins: 3 } })
    expect(created.status).toBe(201)
    expect(await created.json()).toMatchObject({
      name: 'bob',
      role: 'member',
      quota: { bytes: 1000, pins: 3 },
      usage: { user: 'bob', bytes: 0, pins: { pinned: 0 } }
    })
    expect((await admin('/users', 'POST', { name: 'bob' })).status).toBe(409)
    for (const bad of [
      { name: 'Bob' }, { name: '' }, { name: 'x'.repeat(65) }, { name: 'carol', role: 'root' },
      { name: 'carol', quota: { bytes: -1 } }, { name: 'carol', quota: { bytes: 1.5 } }, { name: 'carol', extra: 1 }, []
    ]) {
      const res = await admin('/users', 'POST', bad)
      expect(res.status, JSON.stringify(bad)).toBe(400)
      expect(await res.json()).toEqual({ error: { reason: 'BAD_REQUEST', details: expect.any(String) } })
    }
    const changed = await admin('/users/bob', 'PATCH', { quota: { bytes: null } })
    expect(await changed.json()).toMatchObject({ name: 'bob', quota: { pins: 3 } })
    expect((await (await admin('/users/bob')).json() as { quota?: unknown }).quota).toEqual({ pins: 3 })
    const cleared = await (await admin('/users/bob', 'PATCH', { quota: null })).json() as Record<string, unknown>
    expect(cleared).not.toHaveProperty('quota')
    expect((await admin('/users/nobody')).status).toBe(404)
    expect((await admin('/users/nobody', 'PATCH', { role: 'admin' })).status).toBe(404)
    expect((await admin('/users/admin', 'PATCH', { role: 'member' })).status).toBe(400)
    const list = await (await admin('/users')).json() as { count: number, results: Array<{ name: string }> }
    expect(list.results.map(u => u.name)).toEqual(['admin', 'alice', 'bob'])
    expect(list.count).toBe(3)
  })

  it("issues, lists and revokes any user's tokens; the secret shows once", async () => {
    await admin('/users', 'POST', { name: 'dave' })
    const created = await admin('/users/dave/tokens', 'POST', { label: 'ci', scope: 'pins:add' })
    expect(created.status).toBe(201)
    const { id, secret, scope } = await created.json() as { id: string, secret: string, scope: string }
    expect(scope).toBe('pins:add')
    expect((await withSecret(secret, '/pins', { method: 'POST', body: '{"cid":"bafkqaaa"}' })).status).toBe(202)
    expect((await withSecret(secret, '/pins')).status).toBe(403)
    const listed = await (await admin('/users/dave/tokens')).text()
    expect(listed).not.toContain(secret)
    expect(JSON.parse(listed)).toEqual({
      count: 1, results: [expect.objectContaining({ id, label: 'ci', lastUsed: expect.any(String) })]
    })
    // A member cannot be given the admin scope.
    expect((await admin('/users/dave/tokens', 'POST', { scope: 'admin' })).status).toBe(400)
    expect((await admin('/users/nobody/tokens', 'POST', {})).status).toBe(404)
    expect((await admin(`/users/alice/tokens/${id}`, 'DELETE')).status).toBe(404)
    expect((await admin(`/users/dave/tokens/${id}`, 'DELETE')).status).toBe(204)
    expect((await withSecret(secret, '/pins')).status).toBe(401)
  })

  it('an admin demoted to member loses the admin scope at once', async () => {
    await admin('/users', 'POST', { name: 'erin', role: 'admin' })
    const { secret } = await (await admin('/users/erin/tokens', 'POST', { scope: 'admin' })).json() as
      { secret: string }
    expect((await withSecret(secret, '/users')).status).toBe(200)
    await admin('/users/erin', 'PATCH', { role: 'member' })
    expect((await withSecret(secret, '/users')).status).toBe(403)
    expect((await withSecret(secret, '/pins')).status).toBe(200)
  })

  it('refuses to delete a user with pins unless asked; then removes pins and tokens', async () => {
    await admin('/users', 'POST', { name: 'frank' })
    const { secret } = await (await admin('/users/frank/tokens', 'POST', {})).json() as { secret: string }
    for (const cid of ['bafkqaaa', 'bafkqaaa', 'bafkqaatine']) {
      expect((await withSecret(secret, '/pins', { method: 'POST', body: JSON.stringify({ cid }) })).status).toBe(202)
    }
    const refused = await admin('/users/frank', 'DELETE')
    expect(refused.status).toBe(409)
    expect(await refused.json())
      .toEqual({ error: { reason: 'CONFLICT', details: expect.stringContaining('3 pin requests') } })
    expect((await withSecret(secret, '/pins')).status).toBe(200)
    expect((await admin('/users/frank?remove_pins=maybe', 'DELETE')).status).toBe(400)
    const deleted = await admin('/users/frank?remove_pins=true', 'DELETE')
    expect(await deleted.json()).toEqual({ removedPins: 3, revokedTokens: 1 })
    expect((await withSecret(secret, '/pins')).status).toBe(401)
    expect((await admin('/users/frank')).status).toBe(404)
    expect((await admin('/users/admin', 'DELETE')).status).toBe(400)
    expect((await admin('/users/nobody', 'DELETE')).status).toBe(404)
  })

  it('shows usage to each user, and everyone and the node to admins', async () => {
    await service.client('alice').pinsPost({ pin: { cid: 'bafkqaaa' } })
    const own = await (await service.request('/usage', { user: 'alice' })).json()
    expect(own).toEqual({
      user: 'alice', pins: { queued: 0, pinning: 0, pinned: 1, failed: 0 }, bytes: 0, cids: 1, limits: {}
    })
    expect((await service.request('/usage/all', { user: 'alice' })).status).toBe(403)
    const all = await (await admin('/usage/all')).json() as
      { users: Array<{ user: string }>, node: { blocks: number, bytes: number } }
    expect(all.users.map(u => u.user)).toContain('alice')
    expect(all.node).toEqual({ blocks: expect.any(Number), bytes: expect.any(Number) })
  })

  it('refuses every admin route to tokens without the admin scope', async () => {
    const routes: Array<[string, string]> = [
      ['GET', '/users'], ['POST', '/users'], ['GET', '/users/alice'], ['PATCH', '/users/alice'],
      ['DELETE', '/users/alice'], ['GET', '/users/alice/tokens'], ['POST', '/users/alice/tokens'],
      ['DELETE', '/users/alice/tokens/x'], ['GET', '/usage/all']
    ]
    for (const [method, path] of routes) {
      const res = await service.request(path, {
        method,
        user: 'alice',
        headers: JSON_HEADERS,
        ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{"name":"mallory","role":"admin"}' })
      })
      expect(res.status, `${method} ${path}`).toBe(403)
      expect(await res.json()).toEqual({ error: { reason: 'FORBIDDEN', details: expect.stringContaining('admin') } })
    }
    expect((await admin('/users/mallory')).status).toBe(404)
  })
})

describe('isolation between users', () => {
  let service: TestService
  let alicePin: string
  beforeAll(async () => {
    service = await startService({ users: ['alice', 'bob'] })
    alicePin = (await service.client('alice').pinsPost({ pin: { cid: 'bafkqaaa', name: 'secret-plans' } })).requestid
    await service.client('bob').pinsPost({ pin: { cid: 'bafkqaatine', name: 'bobs' } })
  })
  afterAll(async () => { await service.destroy() })

  const bob = async (path: string, method = 'GET', body?: unknown): Promise<Response> =>
    await service.request(path, {
      method, user: 'bob', headers: JSON_HEADERS, ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })

  it.each([
    ['GET /pins/{id}', 'GET', undefined],
    ['POST /pins/{id}', 'POST', { cid: 'bafkqaaa' }],
    ['DELETE /pins/{id}', 'DELETE', undefined]
  ])("%s on another user's request is 404", async (_name, method, body) => {
    const res = await bob(`/pins/${alicePin}`, method, body)
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: { reason: 'NOT_FOUND', details: expect.any(String) } })
  })

  it.each([
    ['no filter', '/pins'],
    ['cid', '/pins?cid=bafkqaaa'],
    ['name', '/pins?name=secret&match=partial'],
    ['every status', '/pins?status=queued,pinning,pinned,failed']
  ])("lists with %s leave out another user's requests, counts included", async (_name, path) => {
    const body = await (await bob(path)).json() as { count: number, results: Array<{ pin: { name?: string } }> }
    expect(body.results.map(r => r.pin.name)).not.toContain('secret-plans')
    expect(body.count).toBe(body.results.length)
  })

  it("alice's request survived bob's attempts, and usage counts only one's own", async () => {
    const mine = await service.client('alice').pinsRequestidGet({ requestid: alicePin })
    expect(mine.pin).toMatchObject({ cid: 'bafkqaaa', name: 'secret-plans' })
    const usage = await (await bob('/usage')).json() as { pins: Record<string, number> }
    expect(usage.pins.pinned).toBe(1)
  })
})
