/**
 * Signing in to the web app's session over plain HTTP: a token traded for an HttpOnly SameSite=Strict cookie,
 * refused without this site as Origin, and the session key that goes only to the page that signed in.
 */
import { describe, expect, it } from 'vitest'
import { failureOf } from '../fixtures/content.js'
import { useCookieClient } from '../fixtures/session.js'

const web = useCookieClient({ users: ['alice'] })
const { signIn, withCookie } = web

describe('signing in', () => {
  it('sets an HttpOnly, SameSite=Strict, Path=/ cookie (not Secure over http) and says who is signed in', async () => {
    const { setCookie, body } = await signIn(web.svc.tokens.alice as string)
    expect(setCookie).toMatch(/^pinery_session_[A-Za-z0-9_-]{8}=[A-Za-z0-9_-]{43}; /)
    expect(setCookie).toContain('HttpOnly')
    expect(setCookie).toContain('SameSite=Strict')
    expect(setCookie).toContain('Path=/')
    expect(setCookie).not.toContain('Secure')
    expect(setCookie).not.toContain(web.svc.tokens.alice)
    expect(body).toMatchObject({ user: 'alice', scope: 'pins:write' })
    expect(JSON.stringify(body)).not.toContain(web.svc.tokens.alice)
  })

  it('refuses a bad token with 401 and no cookie', async () => {
    const res = await fetch(`${web.svc.url}/session`,
      { method: 'POST', headers: { origin: web.svc.url, 'content-type': 'application/json' }, body: '{"token":"no"}' })
    expect(res.status).toBe(401)
    expect(res.headers.get('set-cookie')).toBeNull()
  })

  it('refuses sign-in without this site as Origin (no login CSRF)', async () => {
    for (const headers of [{}, { origin: 'http://evil.example' }] as Array<Record<string, string>>) {
      const res = await fetch(`${web.svc.url}/session`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ token: web.svc.tokens.alice })
      })
      const failure = await failureOf(res)
      expect(failure.status).toBe(403)
      expect(failure.reason).toBe('FORBIDDEN')
      expect(res.headers.get('set-cookie')).toBeNull()
    }
  })
})

describe('the session key', () => {
  it('goes only to the page that signed in; changes and GET /session need it, reads without one and signing out ' +
    'do not, reads with another session\'s do', async () => {
    const { cookie, body } = await signIn(web.svc.tokens.alice as string)
    expect(body.session_key).toMatch(/^[A-Za-z0-9_-]{43}$/)
    // A planted cookie: the page holding it got no key (or another session's).
    const other = (await signIn(web.svc.tokens.alice as string)).body.session_key as string
    for (const key of ['', other]) {
      const headers = { origin: web.svc.url, 'content-type': 'application/json', 'pinery-session-key': key }
      for (const path of ['/session', '/Session/']) {
        const who = await failureOf(await withCookie(cookie, path, { headers }))
        expect(who).toMatchObject({ status: 401, reason: 'UNAUTHORIZED', details: /pinery-session-key/ })
      }
      const change = await withCookie(cookie, '/pins', { method: 'POST', headers, body: '{"cid":"bafkqaaa"}' })
      expect(change.status).toBe(401)
      // The page's own reads send its key: a cookie overwritten by another site's since is not shown as
      // the person's (old code: 200, the planted session's pins). A link or download sends no key.
      expect((await withCookie(cookie, '/pins', { headers })).status).toBe(key === '' ? 200 : 401)
    }
    expect((await withCookie(cookie, '/session')).status).toBe(200)
    // Signing out ends only the session its cookie names, whatever key comes with it.
    const headers = { origin: web.svc.url, 'pinery-session-key': other }
    expect((await withCookie(cookie, '/session', { method: 'DELETE', headers })).status).toBe(204)
  })

  it('refuses a sign-in a browser says comes from another site (Sec-Fetch-Site), with a Failure body', async () => {
    for (const site of ['same-site', 'cross-site', 'none']) {
      const res = await fetch(`${web.svc.url}/session`, {
        method: 'POST',
        headers: { origin: web.svc.url, 'sec-fetch-site': site, 'content-type': 'application/json' },
        body: JSON.stringify({ token: web.svc.tokens.alice })
      })
      expect(await failureOf(res)).toMatchObject({ status: 403, reason: 'FORBIDDEN', details: /Sec-Fetch-Site/ })
      expect(res.headers.get('set-cookie')).toBeNull()
    }
  })
})
