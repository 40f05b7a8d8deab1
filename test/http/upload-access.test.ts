/**
 * An upload is recorded only if its token still holds when its last byte is in. It was authenticated
 * once, when the body started: an upload still streaming when its token was revoked became a pinned
 * request all the same, and one whose user was deleted (and the name taken again) became a request of
 * the new user, charged to their quota, although "a later user of the same name starts empty".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'

const json = { 'content-type': 'application/json' }

describe('an upload whose access ends while it streams', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService() })
  afterAll(async () => { await svc.destroy() })

  const post = async (path: string, body: unknown): Promise<Response> =>
    await svc.request(path, { method: 'POST', headers: json, body: JSON.stringify(body) })
  const newToken = async (user: string): Promise<{ id: string, secret: string }> => {
    const res = await post(`/users/${user}/tokens`, {})
    expect(res.status).toBe(201)
    return await res.json() as { id: string, secret: string }
  }
  /** Starts an upload of `name` with `secret`; its body ends when `finish` is called. */
  const startUpload = (secret: string, name: string): { finish(): void, answer: Promise<Response> } => {
    let finish = (): void => {}
    const body = new ReadableStream<Uint8Array>({
      start (controller) {
        controller.enqueue(new Uint8Array(300_000).fill(7))
        finish = () => { controller.enqueue(new Uint8Array(300_000).fill(8)); controller.close() }
      }
    })
    const answer = fetch(`${svc.url}/content?name=${name}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/octet-stream' },
      body,
      duplex: 'half'
    } as RequestInit)
    return { finish: () => { finish() }, answer }
  }
  const namesOf = async (user: string): Promise<string[]> => {
    const token = await newToken(user)
    const res = await svc.request('/pins?status=queued,pinning,pinned,failed', { user: token.secret })
    const { results } = await res.json() as { results: Array<{ pin: { name?: string } }> }
    return results.map(r => r.pin.name ?? '')
  }

  it('is refused when its token was revoked meanwhile', async () => {
    expect((await post('/users', { name: 'alice' })).status).toBe(201)
    const phone = await newToken('alice')
    const upload = startUpload(phone.secret, 'revoked-upload')
    await new Promise(resolve => setTimeout(resolve, 300))
    expect((await svc.request(`/users/alice/tokens/${phone.id}`, { method: 'DELETE' })).status).toBe(204)
    upload.finish()
    expect((await upload.answer).status).toBe(401)
    expect(await namesOf('alice')).toEqual([])
  })

  it('never lands in a new user of the same name', async () => {
    expect((await post('/users', { name: 'eve' })).status).toBe(201)
    const old = await newToken('eve')
    const upload = startUpload(old.secret, 'old-eve-upload')
    await new Promise(resolve => setTimeout(resolve, 300))
    expect((await svc.request('/users/eve?remove_pins=true', { method: 'DELETE' })).status).toBe(200)
    expect((await post('/users', { name: 'eve' })).status).toBe(201)
    upload.finish()
    expect((await upload.answer).status).toBe(401)
    expect(await namesOf('eve')).toEqual([])
    const usage = await (await svc.request('/users/eve')).json() as { usage: { bytes: number } }
    expect(usage.usage.bytes).toBe(0)
  })

  it('is recorded when its token holds', async () => {
    const token = await newToken('alice')
    const upload = startUpload(token.secret, 'kept-upload')
    await new Promise(resolve => setTimeout(resolve, 300))
    upload.finish()
    expect((await upload.answer).status).toBe(202)
    expect(await namesOf('alice')).toEqual(['kept-upload'])
  })
})
