/**
 * A webhook registered with a token at the moment that token is revoked: it must never outlive the
 * revocation. Before, the revocation disabled the webhooks the token had registered *so far*, while the
 * registration checked the token only when its request was authenticated, so one stored just after the
 * revocation's look stayed enabled (a thief racing the owner's revoke kept the user's events).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'

const ATTEMPTS = 60

describe('registering a webhook while its token is revoked', () => {
  let svc: TestService
  beforeAll(async () => {
    svc = await startService({ users: ['alice'], env: { PINERY_WEBHOOK_ALLOW: '127.0.0.1' } })
  })
  afterAll(async () => { await svc?.destroy() })

  it('leaves no enabled webhook of a revoked token, however the two interleave', async () => {
    const escaped: string[] = []
    let registered = 0
    for (let i = 0; i < ATTEMPTS; i++) {
      const token = await (await svc.call('POST', '/users/alice/tokens', 'admin', {})).json() as
        { id: string, secret: string }
      // The token is known (cached) before the race, as for a thief who has used it.
      expect((await svc.call('GET', '/pins', token.secret)).status).toBe(200)
      const hook = { url: `http://127.0.0.1:9/hook${i}`, events: ['pin.pinned'] }
      const [created, revoked] = await Promise.all([
        svc.call('POST', '/webhooks', token.secret, hook),
        (async () => {
          for (let k = 0; k < i % 4; k++) await new Promise(resolve => setImmediate(resolve))
          return await svc.call('DELETE', `/users/alice/tokens/${token.id}`, 'admin')
        })()
      ])
      expect(revoked.status).toBe(204)
      if (created.status !== 201) {
        expect(created.status).toBe(401)
        continue
      }
      registered++
      const { id } = await created.json() as { id: string }
      const shown = await (await svc.call('GET', `/webhooks/${id}`, 'alice')).json() as { enabled: boolean }
      if (shown.enabled) escaped.push(id)
      expect((await svc.call('DELETE', `/webhooks/${id}`, 'alice')).status).toBe(204)
    }
    expect({ escaped: escaped.length, of: registered }).toEqual({ escaped: 0, of: registered })
  }, 120_000)
})
