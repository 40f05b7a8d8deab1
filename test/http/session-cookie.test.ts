/**
 * The web app's session cookie over plain HTTP: it stands for its token on every route (GET /ipfs too) and dies
 * with it; unsafe requests signed in by cookie need a same-origin Origin; of several cookies the one the key
 * names counts; bearer clients are unaffected.
 */
import { describe, expect, it } from 'vitest'
import { failureOf, postContent } from '../fixtures/content.js'
import { useCookieClient } from '../fixtures/session.js'

const web = useCookieClient({ users: ['alice'] })
const { keys, signIn, withCookie } = web

describe('the cookie', () => {
  it('authenticates every route as the bound token, GET /ipfs included', async () => {
    const res = await postContent(web.svc, 'hello from the page', { query: { name: 'hello.txt' } })
    const pin = await res.json() as { requestid: string, pin: { cid: string } }
    const { cookie } = await signIn(web.svc.tokens.alice as string)
    expect(await (await withCookie(cookie, `/pins/${pin.requestid}`)).json())
      .toMatchObject({ requestid: pin.requestid })
    const file = await withCookie(cookie, `/ipfs/${pin.pin.cid}`)
    expect(file.status).toBe(200)
    expect(await file.text()).toBe('hello from the page')
    expect(await (await withCookie(cookie, '/session')).json()).toMatchObject({ user: 'alice', scope: 'pins:write' })
    expect((await withCookie(cookie, '/users')).status).toBe(403) // alice's token is no admin
  })

  it('needs a same-origin Origin on unsafe methods (403 with a Failure body otherwise)', async () => {
    const { cookie } = await signIn(web.svc.tokens.alice as string)
    const body = JSON.stringify({ cid: 'bafkqaaa', name: 'csrf' })
    const json = { 'content-type': 'application/json' }
    for (const headers of [json, { ...json, origin: 'http://evil.example' }, { ...json, origin: 'null' }]) {
      const failure = await failureOf(await withCookie(cookie, '/pins', { method: 'POST', headers, body }))
      expect(failure).toMatchObject({ status: 403, reason: 'FORBIDDEN' })
      expect(failure.details).toMatch(/Origin/)
    }
    const own = { ...json, origin: web.svc.url }
    expect((await withCookie(cookie, '/pins', { method: 'POST', headers: own, body })).status).toBe(202)
    // Safe methods need none (the browser sends no Origin on a plain GET).
    expect((await withCookie(cookie, '/pins?name=csrf')).status).toBe(200)
  })

  it('ends with its token: a revoked token answers 401 and clears the cookie', async () => {
    const made = await (await web.svc.request('/users/alice/tokens',
      { method: 'POST', body: JSON.stringify({ label: 'browser' }) })).json() as { id: string, secret: string }
    const { cookie } = await signIn(made.secret)
    expect((await withCookie(cookie, '/pins')).status).toBe(200)
    expect((await web.svc.request(`/users/alice/tokens/${made.id}`, { method: 'DELETE' })).status).toBe(204)
    const res = await withCookie(cookie, '/pins')
    expect((await failureOf(res)).status).toBe(401)
    expect(res.headers.get('set-cookie')).toMatch(/^pinery_session_[A-Za-z0-9_-]{8}=; Max-Age=0/)
    expect((await withCookie(cookie, '/session')).status).toBe(401)
  })

  it('ends on sign-out', async () => {
    const { cookie } = await signIn(web.svc.tokens.alice as string)
    expect((await withCookie(cookie, '/session', { method: 'DELETE' })).status).toBe(403) // no Origin
    const out = await withCookie(cookie, '/session', { method: 'DELETE', headers: { origin: web.svc.url } })
    expect(out.status).toBe(204)
    expect(out.headers.get('set-cookie')).toMatch(/^pinery_session_[A-Za-z0-9_-]{8}=; Max-Age=0/)
    expect((await withCookie(cookie, '/pins')).status).toBe(401)
    // The token itself still works elsewhere.
    expect((await web.svc.request('/pins', { user: 'alice' })).status).toBe(200)
  })

  it('limits a pins:add session like the token', async () => {
    const made = await (await web.svc.request('/tokens',
      { method: 'POST', user: 'alice', body: JSON.stringify({ label: 'ci', scope: 'pins:add' }) })).json() as
      { secret: string }
    const { cookie, body } = await signIn(made.secret)
    expect(body).toMatchObject({ user: 'alice', scope: 'pins:add' })
    expect((await withCookie(cookie, '/pins')).status).toBe(403)
  })

  it('of several session cookies (one planted by another site: cookies ignore ports) takes the one its key ' +
    'names, and refuses them without one', async () => {
    const { cookie: mine } = await signIn(web.svc.tokens.alice as string)
    // A page on another port signs in with its own token and sets that session with Path=/content,
    // so the browser sends it first on uploads.
    const { cookie: planted } = await signIn(web.svc.tokens.admin as string)
    for (const both of [`${planted}; ${mine}`, `${mine}; ${planted}`, `${planted}; ${planted}; ${mine}`]) {
      // With the key of the page that signed in (alice's): alice, for reads and changes (old code: 401).
      const keyed = { 'pinery-session-key': keys.get(mine.replace(/^[^=]+=/, '')) as string }
      const who = await withCookie(both, '/session', { headers: keyed })
      expect(who.status, both).toBe(200)
      expect(await who.json()).toMatchObject({ user: 'alice' })
      const upload = await withCookie(both, '/content?name=keyed', {
        method: 'POST', headers: { origin: web.svc.url, ...keyed }, body: 'private'
      })
      expect(upload.status).toBe(202)
      // Without a key, or with one naming neither, none can be told: 401, read or change.
      for (const key of ['', 'A'.repeat(43)]) {
        const headers = { origin: web.svc.url, 'pinery-session-key': key }
        for (const [method, path] of [['GET', '/session'], ['GET', '/pins'], ['POST', '/content?name=planted']]) {
          const body = method === 'POST' ? { body: 'x' } : {}
          const res = await withCookie(both, path as string, { method, headers, ...body })
          expect(await failureOf(res), `${method} ${path} ${key}`)
            .toMatchObject({ status: 401, details: expect.stringMatching(/several/) })
        }
      }
    }
    const theirs = await (await web.svc.request('/pins?name=planted')).json() as { count: number }
    expect(theirs.count).toBe(0)
    const alices = await (await web.svc.request('/pins?name=keyed', { user: 'alice' })).json() as { count: number }
    expect(alices.count).toBe(3)
    expect((await withCookie(mine, '/session')).status).toBe(200) // alone, each still works
  })

  it('an unknown or forged cookie is 401', async () => {
    expect((await withCookie('pinery_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '/pins')).status).toBe(401)
    expect((await withCookie('pinery_session=<script>', '/pins')).status).toBe(401)
  })
})

describe('bearer clients', () => {
  it('are unaffected by Origin, and a header wins over a cookie', async () => {
    const res = await web.svc.request('/pins', {
      method: 'POST',
      user: 'alice',
      headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ cid: 'bafkqaaa' })
    })
    expect(res.status).toBe(202)
    const { cookie } = await signIn(web.svc.tokens.alice as string)
    const authorization = `Bearer ${web.svc.tokens.admin}`
    const admin = await fetch(`${web.svc.url}/users`, { headers: { cookie, authorization } })
    expect(admin.status).toBe(200)
  })
})
