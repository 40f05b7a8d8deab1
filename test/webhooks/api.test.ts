/**
 * The webhook routes: validation of URLs and event types (refused targets
 * are a clear 400), access levels, isolation between users, node-wide
 * webhooks for admins only, disabling and deleting, and the secret shown
 * once and never logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'

const json = { 'content-type': 'application/json' }

describe('webhook routes', () => {
  let service: TestService
  let strict: TestService
  const logs: string[] = []
  const post = async (s: TestService, user: string, body: unknown): Promise<Response> =>
    await s.request('/webhooks', { method: 'POST', user, headers: json, body: JSON.stringify(body) })

  beforeAll(async () => {
    service = await startService({ users: ['alice', 'bob'], env: { PINERY_WEBHOOK_ALLOW: '127.0.0.1' }, logs })
    strict = await startService({ users: ['alice'] })
  })
  afterAll(async () => {
    await service?.destroy()
    await strict?.destroy()
  })

  it('refuses targets that are not allowed, and bad bodies, with a clear 400', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ url: 'http://127.0.0.1:9/hook', events: ['pin.pinned'] }, /loopback.*PINERY_WEBHOOK_ALLOW/],
      // A name is refused without its address: members get no view of the operator's internal DNS.
      [{ url: 'http://localhost:9/hook', events: ['pin.pinned'] }, /^webhooks may not target localhost: it resolves to a loopback/],
      [{ url: 'http://169.254.169.254/latest/meta-data', events: ['pin.pinned'] }, /link-local/],
      [{ url: 'http://[::ffff:10.0.0.1]/', events: ['pin.pinned'] }, /private/],
      [{ url: 'ftp://example.com/', events: ['pin.pinned'] }, /http and https/],
      [{ url: 'nope', events: ['pin.pinned'] }, /valid absolute URL/],
      [{ url: 'http://127.0.0.1:9/', events: ['pin.nope'] }, /events/],
      [{ url: 'http://127.0.0.1:9/', events: [] }, /events/],
      [{ url: 'http://127.0.0.1:9/' }, /events/],
      [{ url: 'http://127.0.0.1:9/', events: ['pin.pinned'], extra: 1 }, /extra/]
    ]
    for (const [body, reason] of cases) {
      const res = await post(strict, 'alice', body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect((await res.json() as { error: { reason: string, details: string } }).error.details, JSON.stringify(body))
        .toMatch(reason)
    }
    expect((await strict.request('/webhooks', { method: 'POST', user: 'alice', headers: json, body: '{' })).status)
      .toBe(400)
  })

  it('asks each route for its access level (scope matrix)', async () => {
    const scopes = ['pins:add', 'pins:read', 'pins:write', 'admin'] as const
    const tokens: Record<string, string> = { admin: service.tokens.admin as string }
    for (const scope of scopes.slice(0, 3)) {
      const res = await service.request('/tokens', {
        method: 'POST', user: 'alice', headers: json, body: JSON.stringify({ scope })
      })
      tokens[scope] = (await res.json() as { secret: string }).secret
    }
    const none = '00000000-0000-4000-8000-000000000000'
    const routes: Array<[string, string, (typeof scopes)[number], RequestInit?]> = [
      ['GET', '/events?after=999999999', 'pins:read'],
      ['GET', '/events?all=true&after=999999999', 'admin'],
      ['GET', '/webhooks', 'pins:write'],
      ['POST', '/webhooks', 'pins:write', { body: '{"url":"ftp://x"}' }],
      ['GET', `/webhooks/${none}`, 'pins:write'],
      ['PATCH', `/webhooks/${none}`, 'pins:write', { body: '{"enabled":true}' }],
      ['DELETE', `/webhooks/${none}`, 'pins:write'],
      ['POST', `/webhooks/${none}/test`, 'pins:write'],
      ['GET', `/webhooks/${none}/deliveries`, 'pins:write']
    ]
    for (const [method, path, need, init] of routes) {
      for (const scope of scopes) {
        const res = await service.request(path, { ...init, method, user: tokens[scope], headers: json })
        const allowed = scopes.indexOf(scope) >= scopes.indexOf(need)
        if (allowed) expect([200, 400, 404, 410], `${method} ${path} with ${scope}`).toContain(res.status)
        else expect(res.status, `${method} ${path} with ${scope}`).toBe(403)
      }
    }
  })

  it('needs pins:write; keeps users apart; node-wide webhooks are for admins', async () => {
    const token = await service.request('/tokens', {
      method: 'POST', user: 'alice', headers: json, body: JSON.stringify({ scope: 'pins:read' })
    })
    const reader = (await token.json() as { secret: string }).secret
    expect((await service.request('/webhooks', { user: reader })).status).toBe(403)
    expect((await post(service, reader, { url: 'http://127.0.0.1:9/', events: ['pin.pinned'] })).status).toBe(403)

    const res = await post(service, 'alice', {
      url: 'http://127.0.0.1:9/a', events: ['pin.pinned', 'pin.failed'], description: 'mine'
    })
    expect(res.status).toBe(201)
    const hook = await res.json() as { id: string, secret: string }
    expect(hook).toMatchObject({
      url: 'http://127.0.0.1:9/a',
      events: ['pin.pinned', 'pin.failed'],
      description: 'mine',
      all: false,
      enabled: true,
      owner: 'alice'
    })
    expect((await service.request(`/webhooks/${hook.id}`, { user: 'bob' })).status).toBe(404)
    expect((await service.request(`/webhooks/${hook.id}`, { method: 'DELETE', user: 'bob' })).status).toBe(404)
    expect((await service.request(`/webhooks/${hook.id}/deliveries`, { user: 'bob' })).status).toBe(404)
    expect((await (await service.request('/webhooks', { user: 'bob' })).json() as { count: number }).count).toBe(0)
    const list = await (await service.request('/webhooks', { user: 'alice' })).json() as {
      count: number
      results: Array<Record<string, unknown>>
    }
    expect(list.count).toBe(1)
    expect(list.results[0]?.secret).toBeUndefined()
    expect((await service.request('/webhooks/not-an-id', { user: 'alice' })).status).toBe(400)

    expect((await post(service, 'alice', { url: 'http://127.0.0.1:9/all', events: ['pin.pinned'], all: true })).status)
      .toBe(403)
    const wide = await post(service, 'admin', { url: 'http://127.0.0.1:9/all', events: ['pin.pinned'], all: true })
    expect(wide.status).toBe(201)
    expect(await wide.json()).toMatchObject({ all: true, owner: 'admin' })

    const off = await service.request(`/webhooks/${hook.id}`, {
      method: 'PATCH', user: 'alice', headers: json, body: JSON.stringify({ enabled: false })
    })
    expect(await off.json()).toMatchObject({ enabled: false, disabled_reason: 'disabled by its owner' })
    const notBoolean = await service.request(`/webhooks/${hook.id}`, {
      method: 'PATCH', user: 'alice', headers: json, body: JSON.stringify({ enabled: 'yes' })
    })
    expect(notBoolean.status).toBe(400)
    expect((await service.request(`/webhooks/${hook.id}`, { method: 'DELETE', user: 'alice' })).status).toBe(204)
    expect((await service.request(`/webhooks/${hook.id}`, { user: 'alice' })).status).toBe(404)

    // A test delivery to a port nobody listens on fails cleanly, and is listed.
    const created = await post(service, 'alice', { url: 'http://127.0.0.1:9/x', events: ['pin.pinned'] })
    const id = (await created.json() as { id: string }).id
    const test = await (await service.request(`/webhooks/${id}/test`, { method: 'POST', user: 'alice' })).json() as {
      ok: boolean
      error: string
    }
    expect(test.ok).toBe(false)
    expect(test.error).toMatch(/ECONNREFUSED/)
    const attempts = await (await service.request(`/webhooks/${id}/deliveries`, { user: 'alice' })).json() as {
      results: Array<{ error: string, status_code: null }>
    }
    expect(attempts.results[0]).toMatchObject({ status_code: null })

    // Only the last 100 attempts are kept.
    for (let i = 0; i < 105; i++) await service.request(`/webhooks/${id}/test`, { method: 'POST', user: 'alice' })
    const kept = await service.request(`/webhooks/${id}/deliveries`, { user: 'alice' })
    expect((await kept.json() as { count: number }).count).toBe(100)

    // The secret was shown once and never reached a log line.
    expect(logs.length).toBeGreaterThan(0)
    for (const line of logs) expect(line.includes(hook.secret)).toBe(false)
  })
})
