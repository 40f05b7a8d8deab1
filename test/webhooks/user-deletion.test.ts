/**
 * Deleting a user deletes their webhooks: they used to stay registered, and a
 * new user of the same name inherited them, so the new user's pin events went
 * to the old user's address, signed with the old user's secret.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'

describe('webhooks of a deleted user', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService({ users: ['alice'] }) })
  afterAll(async () => { await svc.destroy() })

  const json = { 'content-type': 'application/json' }

  it('are deleted with the user, not inherited by the next user of that name', async () => {
    const hook = await svc.request('/webhooks', {
      method: 'POST', user: 'alice', headers: json,
      body: JSON.stringify({ url: 'http://93.184.216.34/old-alice', events: ['pin.pinned'] })
    })
    expect(hook.status).toBe(201)
    expect((await svc.request('/users/alice?remove_pins=true', { method: 'DELETE' })).status).toBe(200)

    expect((await svc.request('/users', { method: 'POST', headers: json, body: '{"name":"alice"}' })).status).toBe(201)
    const token = await svc.request('/users/alice/tokens', { method: 'POST', headers: json, body: '{}' })
    const { secret } = await token.json() as { secret: string }
    const list = await (await svc.request('/webhooks', { user: secret })).json() as { count: number }
    expect(list.count).toBe(0)
  })
})
