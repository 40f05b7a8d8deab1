/**
 * A node-wide webhook (all: true, which sends every user's events) registered by an admin at the moment
 * they are demoted: it must never stay enabled for the member they became. The demotion disables the
 * node-wide webhooks they hold *so far* (the user store's hook), while the registration checked the role
 * only when its request was authenticated, so one stored just after the demotion's look stayed enabled:
 * a member kept a feed of every user's pins (the revocation's twin, test/auth/revoke-webhook-race).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'

const ATTEMPTS = 60

describe('registering a node-wide webhook while its owner is demoted', () => {
  let svc: TestService
  beforeAll(async () => {
    svc = await startService({ env: { PINERY_WEBHOOK_ALLOW: '127.0.0.1' } })
  })
  afterAll(async () => { await svc?.destroy() })

  it('leaves no enabled node-wide webhook of a member, however the two interleave', async () => {
    expect((await svc.call('POST', '/users', 'admin', { name: 'ann', role: 'admin' })).status).toBe(201)
    const token = await (await svc.call('POST', '/users/ann/tokens', 'admin', { scope: 'admin' })).json() as
      { secret: string }
    const escaped: string[] = []
    let registered = 0
    for (let i = 0; i < ATTEMPTS; i++) {
      // The token is known (cached) as an admin's before the race.
      expect((await svc.call('GET', '/users', token.secret)).status).toBe(200)
      const hook = { url: `http://127.0.0.1:9/hook${i}`, events: ['pin.pinned'], all: true }
      const [created, demoted] = await Promise.all([
        svc.call('POST', '/webhooks', token.secret, hook),
        (async () => {
          for (let k = 0; k < i % 4; k++) await new Promise(resolve => setImmediate(resolve))
          return await svc.call('PATCH', '/users/ann', 'admin', { role: 'member' })
        })()
      ])
      expect(demoted.status).toBe(200)
      if (created.status === 201) {
        registered++
        const { id } = await created.json() as { id: string }
        // Promoted again to see it (a member is not shown node-wide webhooks); promotion enables nothing.
        expect((await svc.call('PATCH', '/users/ann', 'admin', { role: 'admin' })).status).toBe(200)
        const shown = await (await svc.call('GET', `/webhooks/${id}`, token.secret)).json() as { enabled: boolean }
        if (shown.enabled) escaped.push(id)
        expect((await svc.call('DELETE', `/webhooks/${id}`, token.secret)).status).toBe(204)
      } else {
        expect(created.status).toBe(403)
        expect((await svc.call('PATCH', '/users/ann', 'admin', { role: 'admin' })).status).toBe(200)
      }
    }
    expect({ escaped: escaped.length, of: registered }).toEqual({ escaped: 0, of: registered })
  }, 120_000)
})
