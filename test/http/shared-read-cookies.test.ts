/**
 * A read of /ipfs/… signed in by any of the request's session cookies (auth.ts sharedReads) clears an ended
 * session's cookie only when no other cookie of the request has its name: the clear is made for Path=/, so a
 * junk cookie planted under /ipfs with the person's cookie name would otherwise have the person's own cookie
 * dropped and the planted one kept (review16). Real service, real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { instantCid } from '../fixtures/pins-api.js'
import { startService, type TestService } from '../fixtures/service.js'

describe('shared /ipfs reads and ended sessions\' cookies', () => {
  let svc: TestService
  let cid: string
  let cookie: string
  beforeAll(async () => {
    svc = await startService({ users: ['alice'] })
    cid = instantCid().toString()
    expect((await svc.call('POST', '/pins', 'alice', { cid })).status).toBe(202)
    const res = await fetch(`${svc.url}/session`, {
      method: 'POST',
      headers: { origin: svc.url, 'content-type': 'application/json' },
      body: JSON.stringify({ token: svc.tokens.alice })
    })
    expect(res.status).toBe(200)
    cookie = (res.headers.getSetCookie().find(c => !c.includes('Max-Age=0')) ?? '').split(';')[0] as string
    expect(cookie).toMatch(/^pinery_session_[\w-]+=[\w-]+$/)
  })
  afterAll(async () => { await svc?.destroy() })

  const read = async (cookies: string): Promise<Response> =>
    await fetch(`${svc.url}/ipfs/${cid}`, { headers: { cookie: cookies } })

  it('keeps the person\'s cookie when a planted one has its name', async () => {
    const name = cookie.split('=')[0] as string
    // The browser sends the cookie of the longer path first: the planted one.
    const res = await read(`${name}=planted-ended-session; ${cookie}`)
    expect(res.status, await res.clone().text()).toBe(200)
    expect(res.headers.getSetCookie().filter(c => c.startsWith(`${name}=;`))).toEqual([])
  })

  it('still clears an ended session\'s cookie that is the only one of its name', async () => {
    const res = await read(`pinery_session_gone=ended-session; ${cookie}`)
    expect(res.status).toBe(200)
    expect(res.headers.getSetCookie().filter(c => c.startsWith('pinery_session_gone=;'))).toHaveLength(1)
  })
})
