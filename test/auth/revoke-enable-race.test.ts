/**
 * A webhook enabled with a token at the moment that token is revoked: the revocation disables what the
 * token registered, and an enable that was authenticated just before must not land just after it. Before,
 * only registration waited for the revocation (test/auth/revoke-webhook-race): a thief who had registered
 * a webhook with a stolen token kept it enabled by sending `PATCH {enabled: true}` as the owner revoked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'

const ATTEMPTS = 60

describe('enabling a webhook while the token that registered it is revoked', () => {
  let svc: TestService
  beforeAll(async () => {
    svc = await startService({ users: ['alice'], env: { PINERY_WEBHOOK_ALLOW: '127.0.0.1' } })
  })
  afterAll(async () => { await svc?.destroy() })

  it('leaves no enabled webhook of a revoked token, however the two interleave', async () => {
    const escaped: string[] = []
    for (let i = 0; i < ATTEMPTS; i++) {
      const token = await (await svc.call('POST', '/users/alice/tokens', 'admin', {})).json() as
        { id: string, secret: string }
      const hook = { url: `http://127.0.0.1:9/hook${i}`, events: ['pin.pinned'] }
      const created = await svc.call('POST', '/webhooks', token.secret, hook)
      expect(created.status).toBe(201)
      const { id } = await created.json() as { id: string }
      const [enabled, revoked] = await Promise.all([
        svc.call('PATCH', `/webhooks/${id}`, token.secret, { enabled: true }),
        (async () => {
          for (let k = 0; k < i % 4; k++) await new Promise(resolve => setImmediate(resolve))
          return await svc.call('DELETE', `/users/alice/tokens/${token.id}`, 'admin')
        })()
      ])
      expect(revoked.status).toBe(204)
      expect([200, 401]).toContain(enabled.status)
      const shown = await (await svc.call('GET', `/webhooks/${id}`, 'alice')).json() as { enabled: boolean }
      if (shown.enabled) escaped.push(id)
      expect((await svc.call('DELETE', `/webhooks/${id}`, 'alice')).status).toBe(204)
    }
    expect(escaped).toEqual([])
  }, 120_000)
})
