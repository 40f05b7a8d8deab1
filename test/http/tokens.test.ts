/**
 * Per-device tokens with access levels: the scope matrix over the pins
 * routes, self-service token management, revocation and expiry taking
 * effect on the very next request, and secrets shown only once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'

const SCOPES = ['pins:add', 'pins:read', 'pins:write', 'admin'] as const
type Scope = typeof SCOPES[number]

describe('tokens and access levels', () => {
  let service: TestService
  let pinId: string
  const secrets: Partial<Record<Scope, string>> = {}
  beforeAll(async () => {
    service = await startService({ users: ['alice'] })
    pinId = (await service.client('alice').pinsPost({ pin: { cid: 'bafkqaaa' } })).requestid
    for (const scope of SCOPES.slice(0, 3)) {
      const res = await service.request('/tokens', {
        method: 'POST',
        user: 'alice',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ label: scope, scope })
      })
      expect(res.status).toBe(201)
      secrets[scope] = (await res.json() as { secret: string }).secret
    }
    // Only admins hold the admin scope: the admin user's own token.
    secrets.admin = service.tokens.admin
  })
  afterAll(async () => { await service.destroy() })

  const as = async (scope: Scope, path: string, init: RequestInit = {}): Promise<Response> =>
    await service.request(path, {
      ...init,
      user: null,
      headers: {
        ...init.headers as Record<string, string>,
        authorization: `Bearer ${secrets[scope] ?? ''}`,
        'content-type': 'application/json'
      }
    })

  const routes: Array<{ name: string, need: Scope, call: () => [string, RequestInit] }> = [
    {
      name: 'POST /pins',
      need: 'pins:add',
      call: () => ['/pins', { method: 'POST', body: JSON.stringify({ cid: 'bafkqaaa' }) }]
    },
    { name: 'GET /pins', need: 'pins:read', call: () => ['/pins', {}] },
    { name: 'GET /pins/{id}', need: 'pins:read', call: () => [`/pins/${pinId}`, {}] },
    // Replace and delete target a pin that does not exist: the scope check comes first, else 404.
    {
      name: 'POST /pins/{id}',
      need: 'pins:write',
      call: () => [
        '/pins/00000000-0000-4000-8000-000000000000', { method: 'POST', body: JSON.stringify({ cid: 'bafkqaaa' }) }
      ]
    },
    {
      name: 'DELETE /pins/{id}',
      need: 'pins:write',
      call: () => ['/pins/00000000-0000-4000-8000-000000000000', { method: 'DELETE' }]
    },
    { name: 'GET /usage', need: 'pins:read', call: () => ['/usage', {}] },
    // Managing devices is writing: a pins:add CI token or a pins:read dashboard cannot mint or revoke tokens.
    { name: 'GET /tokens', need: 'pins:write', call: () => ['/tokens', {}] },
    // Bodies and targets that are refused after the scope check, so the matrix changes nothing.
    { name: 'POST /tokens', need: 'pins:write', call: () => ['/tokens', { method: 'POST', body: '{"scope":"none"}' }] },
    { name: 'DELETE /tokens/{id}', need: 'pins:write', call: () => ['/tokens/no-such-token', { method: 'DELETE' }] },
    { name: 'GET /users', need: 'admin', call: () => ['/users', {}] },
    { name: 'POST /users', need: 'admin', call: () => ['/users', { method: 'POST', body: '{"name":"Not Valid"}' }] },
    { name: 'GET /users/{name}', need: 'admin', call: () => ['/users/nobody', {}] },
    { name: 'PATCH /users/{name}', need: 'admin', call: () => ['/users/nobody', { method: 'PATCH', body: '{}' }] },
    { name: 'DELETE /users/{name}', need: 'admin', call: () => ['/users/nobody', { method: 'DELETE' }] },
    { name: 'GET /users/{name}/tokens', need: 'admin', call: () => ['/users/nobody/tokens', {}] },
    {
      name: 'POST /users/{name}/tokens',
      need: 'admin',
      call: () => ['/users/nobody/tokens', { method: 'POST', body: '{}' }]
    },
    {
      name: 'DELETE /users/{name}/tokens/{id}',
      need: 'admin',
      call: () => ['/users/nobody/tokens/x', { method: 'DELETE' }]
    },
    { name: 'GET /usage/all', need: 'admin', call: () => ['/usage/all', {}] }
  ]
  const matrix = routes.flatMap(r => SCOPES.map(scope => ({ ...r, scope })))

  it.each(matrix)('$name with a $scope token', async ({ need, scope, call }) => {
    const [path, init] = call()
    const res = await as(scope, path, init)
    if (SCOPES.indexOf(scope) >= SCOPES.indexOf(need)) {
      expect(res.status).not.toBe(403)
      expect(res.status).toBeLessThan(500)
    } else {
      expect(res.status).toBe(403)
      expect(await res.json()).toEqual({ error: { reason: 'FORBIDDEN', details: expect.stringContaining(need) } })
    }
  })

  it('lists own tokens without secrets, and no token may exceed its own level', async () => {
    const res = await service.request('/tokens', { user: 'alice' })
    const { results } = await res.json() as { results: Array<Record<string, unknown>> }
    expect(results.map(t => t.label)).toEqual(['test', 'pins:add', 'pins:read', 'pins:write'])
    const text = JSON.stringify(results)
    for (const secret of Object.values(secrets)) expect(text).not.toContain(secret)
    expect(results.every(t => !('secret' in t) && !('hash' in t))).toBe(true)
    const higher = await as('pins:write', '/tokens', { method: 'POST', body: JSON.stringify({ scope: 'admin' }) })
    expect(higher.status).toBe(400)
    const admin = await service.request('/tokens', {
      method: 'POST',
      user: 'alice',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'admin' })
    })
    expect(admin.status).toBe(400)
  })

  it('revocation takes effect on the very next request, for that token only', async () => {
    const created = await service.request('/tokens', {
      method: 'POST',
      user: 'alice',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ label: 'phone' })
    })
    const { id, secret } = await created.json() as { id: string, secret: string }
    const use = async (): Promise<number> =>
      (await service.request('/pins', { user: null, headers: { authorization: `Bearer ${secret}` } })).status
    expect(await use()).toBe(200)
    expect((await service.request(`/tokens/${id}`, { method: 'DELETE', user: 'alice' })).status).toBe(204)
    expect(await use()).toBe(401)
    expect((await service.request('/pins', { user: 'alice' })).status).toBe(200)
    // Another user cannot see or revoke alice's tokens.
    expect((await service.request(`/tokens/${id}`, { method: 'DELETE' })).status).toBe(404)
  })

  it('an expired token is refused', async () => {
    const expires = new Date(Date.now() + 1500).toISOString()
    const created = await service.request('/tokens', {
      method: 'POST',
      user: 'alice',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ label: 'ci', expires })
    })
    const { secret } = await created.json() as { secret: string }
    const use = async (): Promise<number> =>
      (await service.request('/pins', { user: null, headers: { authorization: `Bearer ${secret}` } })).status
    expect(await use()).toBe(200)
    await new Promise(resolve => setTimeout(resolve, 1600))
    expect(await use()).toBe(401)
  })
})
