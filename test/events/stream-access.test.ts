/**
 * An open event stream ends when what it was opened with stops being valid. Each was authenticated only
 * once, when it opened: a revoked device token (a lost phone) kept receiving its user's events for as long
 * as the socket lived, a deleted user's stream went on to receive the next user of that name's events, and
 * an admin demoted to member kept every user's events (?all=true).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startService, type TestService } from '../fixtures/service.js'
import { openSse, type SseStream } from '../fixtures/sse.js'

const json = { 'content-type': 'application/json' }

describe('event streams end with their access', () => {
  let svc: TestService
  beforeAll(async () => { svc = await startService({ users: ['alice'] }) })
  afterAll(async () => { await svc.destroy() })

  const post = async (path: string, body: unknown, user = 'admin'): Promise<Response> =>
    await svc.request(path, { method: 'POST', user, headers: json, body: JSON.stringify(body) })
  type Created = { id: string, secret: string }
  const newToken = async (user: string, body: Record<string, unknown> = {}): Promise<Created> => {
    const res = await post(`/users/${user}/tokens`, body)
    expect(res.status).toBe(201)
    return await res.json() as { id: string, secret: string }
  }
  const pin = async (secret: string, name: string): Promise<void> => {
    expect((await post('/pins', { cid: 'bafkqaaa', name }, secret)).status).toBe(202)
  }
  const open = async (headers: Record<string, string>, query = ''): Promise<SseStream> => {
    const stream = await openSse(`${svc.url}/events${query}`, headers)
    expect(stream.status).toBe(200)
    return stream
  }
  /** Resolves true when the server ended the stream within `ms`. */
  const endsWithin = async (stream: SseStream, ms: number): Promise<boolean> =>
    await Promise.race([stream.ended.then(() => true), new Promise<boolean>(resolve => setTimeout(resolve, ms, false))])

  it('a revoked token\'s stream ends before the revocation answers, and gets nothing after it', async () => {
    const phone = await newToken('alice')
    const laptop = await newToken('alice')
    const stream = await open({ authorization: `Bearer ${phone.secret}` })
    await pin(laptop.secret, 'before-revoke')
    await stream.until(frames => frames.some(f => f.data.includes('before-revoke')))
    expect((await svc.request(`/users/alice/tokens/${phone.id}`, { method: 'DELETE' })).status).toBe(204)
    await pin(laptop.secret, 'after-revoke')
    expect(await endsWithin(stream, 2_000)).toBe(true)
    stream.close()
    expect(stream.frames.filter(f => f.data.includes('after-revoke'))).toEqual([])
  })

  it('a deleted user\'s stream ends, and never sees the next user of that name', async () => {
    expect((await post('/users', { name: 'carol' })).status).toBe(201)
    const old = await newToken('carol')
    const stream = await open({ authorization: `Bearer ${old.secret}` })
    expect((await svc.request('/users/carol?remove_pins=true', { method: 'DELETE' })).status).toBe(200)
    expect((await post('/users', { name: 'carol' })).status).toBe(201)
    const next = await newToken('carol')
    await pin(next.secret, 'new-carol-private')
    expect(await endsWithin(stream, 2_000)).toBe(true)
    stream.close()
    expect(stream.frames.filter(f => f.data.includes('new-carol-private'))).toEqual([])
  })

  it('an admin demoted to member loses the every-user stream', async () => {
    expect((await post('/users', { name: 'dave', role: 'admin' })).status).toBe(201)
    const dave = await newToken('dave', { scope: 'admin' })
    const stream = await open({ authorization: `Bearer ${dave.secret}` }, '?all=true')
    const res = await svc.request('/users/dave', { method: 'PATCH', headers: json, body: '{"role":"member"}' })
    expect(res.status).toBe(200)
    expect(await endsWithin(stream, 8_000)).toBe(true)
    await pin('alice', 'alice-after-demotion')
    await new Promise(resolve => setTimeout(resolve, 300))
    stream.close()
    expect(stream.frames.filter(f => f.data.includes('alice-after-demotion'))).toEqual([])
  })

  it('an expired token\'s stream ends', async () => {
    const brief = await newToken('alice', { expires: new Date(Date.now() + 1_500).toISOString() })
    const stream = await open({ authorization: `Bearer ${brief.secret}` })
    expect(await endsWithin(stream, 9_000)).toBe(true)
    stream.close()
  })

  it('a signed-out session\'s stream ends', async () => {
    const { secret } = await newToken('alice')
    const { cookie } = await svc.signIn(secret)
    const stream = await open({ cookie })
    const out = await fetch(`${svc.url}/session`, { method: 'DELETE', headers: { cookie, origin: svc.url } })
    expect(out.status).toBe(204)
    expect(await endsWithin(stream, 8_000)).toBe(true)
    stream.close()
  })

  it('a stream whose access holds stays open', async () => {
    const stream = await open({ authorization: `Bearer ${svc.tokens.alice as string}` })
    expect(await endsWithin(stream, 6_000)).toBe(false)
    await pin('alice', 'still-here')
    await stream.until(frames => frames.some(f => f.data.includes('still-here')))
    stream.close()
  })
})
