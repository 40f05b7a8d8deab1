/**
 * A new user never sees the events of a deleted user of the same name: they
 * stay in the log's window (a week by default), and replaying it from id 0
 * showed the new user the old one's pin names, CIDs and meta.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'
import { openSse } from '../fixtures/sse.js'

describe('events of a deleted user', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService({ users: ['alice'] }) })
  afterAll(async () => { await svc.destroy() })

  const json = { 'content-type': 'application/json' }
  const pin = async (user: string, name: string): Promise<void> => {
    const res = await svc.request('/pins', {
      method: 'POST', user, headers: json, body: JSON.stringify({ cid: 'bafkqaaa', name })
    })
    expect(res.status).toBe(202)
  }

  it('are not replayed to the next user of that name', async () => {
    await pin('alice', 'old-alice-private')
    expect((await svc.request('/users/alice?remove_pins=true', { method: 'DELETE' })).status).toBe(200)
    expect((await svc.request('/users', { method: 'POST', headers: json, body: '{"name":"alice"}' })).status).toBe(201)
    const token = await svc.request('/users/alice/tokens', { method: 'POST', headers: json, body: '{}' })
    const { secret } = await token.json() as { secret: string }

    const stream = await openSse(`${svc.url}/events`, { authorization: `Bearer ${secret}`, 'last-event-id': '0' })
    expect(stream.status).toBe(200)
    await pin(secret, 'new-alice')
    await stream.until(frames => frames.some(f => f.data.includes('new-alice')))
    stream.close()
    expect(stream.frames.filter(f => f.data.includes('old-alice-private')).map(f => f.event)).toEqual([])
  })
})
