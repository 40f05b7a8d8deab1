/**
 * The cap on webhooks per user holds against concurrent registrations: the
 * count and the creation are one step, so requests sent at once cannot all
 * count the same few webhooks and all be stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'
import { MAX_WEBHOOKS_PER_USER } from '../../src/webhooks/index.js'

describe('webhooks per user under concurrent registrations', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService({ users: ['alice'] }) })
  afterAll(async () => { await svc.destroy() })

  it(`stores at most ${MAX_WEBHOOKS_PER_USER} however many arrive at once`, async () => {
    // A public address: accepted by the default target policy, never contacted (no events are sent here).
    const body = JSON.stringify({ url: 'http://93.184.216.34/hook', events: ['pin.pinned'] })
    const answers = await Promise.all(Array.from({ length: 60 }, async () => {
      const res = await svc.request('/webhooks', {
        method: 'POST', user: 'alice', headers: { 'content-type': 'application/json' }, body
      })
      return { status: res.status, body: await res.json() as { error?: { reason: string } } }
    }))
    expect(answers.filter(a => a.status === 201)).toHaveLength(MAX_WEBHOOKS_PER_USER)
    const refused = answers.filter(a => a.status !== 201)
    expect(refused.map(a => `${a.status} ${a.body.error?.reason}`))
      .toEqual(refused.map(() => '409 CONFLICT'))
    const list = await (await svc.request('/webhooks', { user: 'alice' })).json() as { count: number }
    expect(list.count).toBe(MAX_WEBHOOKS_PER_USER)
  })
})
